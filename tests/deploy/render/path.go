package main

// Paths into a rendered object, as written in unit-test assertions:
//   spec.template.spec.containers[0].ports[0].containerPort
//   metadata.annotations["checksum/config"]    (quoted key: may hold dots and slashes)
//   metadata.labels.app\.kubernetes\.io/name   (backslash-escaped dots)

import (
	"fmt"
	"strconv"
	"strings"
)

// pathStep is a map key or a list index.
type pathStep struct {
	key   string
	index int
	isIdx bool
}

func (s pathStep) String() string {
	if s.isIdx {
		return fmt.Sprintf("[%d]", s.index)
	}
	return s.key
}

// ParsePath splits an assertion path into steps.
func ParsePath(p string) ([]pathStep, error) {
	var steps []pathStep
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			steps = append(steps, pathStep{key: cur.String()})
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			cur.WriteByte(p[i+1])
			i++
		case c == '.':
			flush()
		case c == '[':
			flush()
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", p)
			}
			inner := p[i+1 : i+end]
			i += end
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				steps = append(steps, pathStep{key: inner[1 : len(inner)-1]})
				continue
			}
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: bad index [%s]", p, inner)
			}
			steps = append(steps, pathStep{index: n, isIdx: true})
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	if len(steps) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return steps, nil
}

// Lookup follows a path; ok is false when some step does not exist.
func Lookup(obj interface{}, p string) (value interface{}, ok bool, err error) {
	steps, err := ParsePath(p)
	if err != nil {
		return nil, false, err
	}
	cur := obj
	for _, s := range steps {
		if s.isIdx {
			list, isList := cur.([]interface{})
			if !isList || s.index >= len(list) {
				return nil, false, nil
			}
			cur = list[s.index]
			continue
		}
		m, isMap := cur.(map[string]interface{})
		if !isMap {
			return nil, false, nil
		}
		v, exists := m[s.key]
		if !exists {
			return nil, false, nil
		}
		cur = v
	}
	return cur, true, nil
}
