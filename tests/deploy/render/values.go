package main

// Values: reading -f files, --set, merging them the way Helm does, and checking the
// result against values.schema.json.

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

// ReadValuesFile parses one values file. Like Helm, numbers become float64
// (sigs.k8s.io/yaml goes through JSON).
func ReadValuesFile(name string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out, nil
}

// MergeMaps merges b into a copy of a: maps merge key by key, everything else (lists
// included) is replaced by b's value. Used to stack several user values files.
func MergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = MergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Coalesce lays the user's values over the chart defaults, as Helm's CoalesceValues does:
// maps merge recursively, other values from the user win, and a user value of null removes
// the key altogether.
func Coalesce(defaults, user map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, dv := range defaults {
		uv, set := user[k]
		switch {
		case !set:
			out[k] = deepCopy(dv)
		case uv == nil:
			// removed by the user
		default:
			um, uIsMap := uv.(map[string]interface{})
			dm, dIsMap := dv.(map[string]interface{})
			if uIsMap && dIsMap {
				out[k] = Coalesce(dm, um)
			} else {
				out[k] = deepCopy(uv)
			}
		}
	}
	for k, uv := range user {
		if _, seen := defaults[k]; seen || uv == nil {
			continue
		}
		out[k] = deepCopy(uv)
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	default:
		return v
	}
}

// ParseSet applies "a.b.c=value[,x.y=value]" to vals, typing values as Helm's --set does
// (integers, true/false and null are typed; everything else is a string). With asString
// every value stays a string (--set-string). List indexes are not supported.
func ParseSet(vals map[string]interface{}, expr string, asString bool) error {
	for _, pair := range splitUnescaped(expr, ',') {
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 {
			return fmt.Errorf("--set %q: expected key=value", pair)
		}
		key, raw := pair[:eq], strings.ReplaceAll(pair[eq+1:], `\,`, ",")
		var value interface{} = raw
		if !asString {
			value = typedScalar(raw)
		}
		if err := SetPath(vals, splitUnescaped(key, '.'), value); err != nil {
			return fmt.Errorf("--set %q: %w", pair, err)
		}
	}
	return nil
}

func typedScalar(raw string) interface{} {
	switch raw {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil && (raw == "0" || !strings.HasPrefix(raw, "0")) {
		return i
	}
	return raw
}

// splitUnescaped splits s at sep, except where sep is preceded by a backslash
// ("a\.b" is one key containing a dot).
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == sep {
			cur.WriteByte(sep)
			i++
			continue
		}
		if s[i] == sep {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(parts, cur.String())
}

// SetPath sets vals[k0][k1]...[kn] = value, creating maps on the way.
func SetPath(vals map[string]interface{}, keys []string, value interface{}) error {
	m := vals
	for i, k := range keys {
		if k == "" {
			return fmt.Errorf("empty key")
		}
		if i == len(keys)-1 {
			m[k] = value
			return nil
		}
		next, ok := m[k].(map[string]interface{})
		if !ok {
			if m[k] != nil {
				return fmt.Errorf("%s is not a map", strings.Join(keys[:i+1], "."))
			}
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	return nil
}

// ValidateSchema checks the coalesced values against the chart's values.schema.json and
// reports every violation, one per line, in Helm's wording.
func ValidateSchema(chartName string, schema []byte, vals map[string]interface{}) error {
	if schema == nil {
		return nil
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewGoLoader(vals))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	if res.Valid() {
		return nil
	}
	var lines []string
	for _, e := range res.Errors() {
		lines = append(lines, "- "+e.String())
	}
	sort.Strings(lines)
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s",
		chartName, strings.Join(lines, "\n"))
}
