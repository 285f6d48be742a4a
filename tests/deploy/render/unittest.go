package main

// A runner for helm-unittest style suites (CHART/unittests/*_test.yaml), implementing the
// subset of the format the chart's suites use:
//
//   suite: NAME
//   templates: [templates/x.yaml, ...]   templates rendered for every test
//   values: [file, ...]                  relative to the suite file
//   set: {dotted.key: value}
//   release: {name: R, namespace: NS, revision: 1, upgrade: false}
//   tests:
//     - it: does something
//       values / set / release           as above, applied after the suite's
//       documentIndex: N                 default for the asserts below
//       template: templates/x.yaml       default for the asserts below
//       asserts:
//         - <kind>: {path: ..., value|pattern|content|count|of|errorMessage|errorPattern: ...}
//           not: true                    invert
//           documentIndex: N
//           template: templates/x.yaml   only documents of this template
//
// Assertion kinds: equal, notEqual, exists, notExists, isNull, isNotNull, isEmpty,
// isNotEmpty, matchRegex, notMatchRegex, contains, notContains, isSubset, lengthEqual,
// isKind, isAPIVersion, hasDocuments, failedTemplate.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type suiteRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision"`
	Upgrade   bool   `json:"upgrade"`
}

type suiteTest struct {
	It            string                   `json:"it"`
	Values        []string                 `json:"values"`
	Set           map[string]interface{}   `json:"set"`
	Release       *suiteRelease            `json:"release"`
	DocumentIndex *int                     `json:"documentIndex"`
	Template      string                   `json:"template"`
	Capabilities  *suiteCapabilities       `json:"capabilities"`
	Asserts       []map[string]interface{} `json:"asserts"`
}

// suiteCapabilities adds API versions to .Capabilities.APIVersions, as helm-unittest's
// `capabilities: {apiVersions: [...]}` does (suite-wide, or for one test).
type suiteCapabilities struct {
	APIVersions []string `json:"apiVersions"`
}

type suiteFile struct {
	Suite        string                 `json:"suite"`
	Templates    []string               `json:"templates"`
	Values       []string               `json:"values"`
	Set          map[string]interface{} `json:"set"`
	Release      *suiteRelease          `json:"release"`
	Capabilities *suiteCapabilities     `json:"capabilities"`
	Tests        []suiteTest            `json:"tests"`
}

// UnitTestResult counts the outcome of a run.
type UnitTestResult struct {
	Suites, Passed, Failed int
}

// RunUnitTests runs every *_test.yaml under CHART/unittests.
func RunUnitTests(c *Chart, caps Capabilities, verbose bool) (UnitTestResult, error) {
	var res UnitTestResult
	files, err := filepath.Glob(filepath.Join(c.Dir, "unittests", "*_test.yaml"))
	if err != nil {
		return res, err
	}
	if len(files) == 0 {
		return res, fmt.Errorf("no unittests/*_test.yaml in %s", c.Dir)
	}
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return res, err
		}
		var s suiteFile
		if err := yaml.UnmarshalStrict(raw, &s); err != nil {
			return res, fmt.Errorf("%s: %w", f, err)
		}
		if s.Suite == "" || len(s.Tests) == 0 {
			return res, fmt.Errorf("%s: a suite needs a name and tests", f)
		}
		res.Suites++
		for _, t := range s.Tests {
			problems := runOneTest(c, caps, f, &s, &t)
			if len(problems) == 0 {
				res.Passed++
				if verbose {
					fmt.Printf("PASS  %s: %s\n", s.Suite, t.It)
				}
				continue
			}
			res.Failed++
			fmt.Printf("FAIL  %s: %s (%s)\n", s.Suite, t.It, filepath.Base(f))
			for _, p := range problems {
				fmt.Printf("        - %s\n", strings.ReplaceAll(p, "\n", "\n          "))
			}
		}
	}
	return res, nil
}

func applySet(vals map[string]interface{}, set map[string]interface{}) error {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := SetPath(vals, splitUnescaped(k, '.'), deepCopy(set[k])); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	return nil
}

func runOneTest(c *Chart, caps Capabilities, suitePath string, s *suiteFile, t *suiteTest) []string {
	dir := filepath.Dir(suitePath)
	user := map[string]interface{}{}
	for _, group := range []struct {
		files []string
		set   map[string]interface{}
	}{{s.Values, s.Set}, {t.Values, t.Set}} {
		for _, vf := range group.files {
			v, err := ReadValuesFile(filepath.Join(dir, vf))
			if err != nil {
				return []string{err.Error()}
			}
			user = MergeMaps(user, v)
		}
		if err := applySet(user, group.set); err != nil {
			return []string{err.Error()}
		}
	}
	rel := Release{Name: "pgq", Namespace: "jobs", Revision: 1}
	for _, r := range []*suiteRelease{s.Release, t.Release} {
		if r == nil {
			continue
		}
		if r.Name != "" {
			rel.Name = r.Name
		}
		if r.Namespace != "" {
			rel.Namespace = r.Namespace
		}
		if r.Revision != 0 {
			rel.Revision = r.Revision
		}
		rel.IsUpgrade = r.Upgrade
	}

	for _, extra := range []*suiteCapabilities{s.Capabilities, t.Capabilities} {
		if extra != nil {
			caps.APIVersions = append(append(VersionSet{}, caps.APIVersions...), extra.APIVersions...)
		}
	}
	vals := Coalesce(c.Values, user)
	var renderErr error
	var rendered []Rendered
	if err := ValidateSchema(c.Meta.Name, c.Schema, vals); err != nil {
		renderErr = err
	} else {
		rendered, renderErr = Render(c, vals, RenderOptions{
			Release: rel, Capabilities: caps, Only: s.Templates, Strict: true,
		})
	}
	docsByTemplate := map[string][]Document{}
	var allDocs []Document
	if renderErr == nil {
		for _, r := range rendered {
			docs, err := SplitDocuments(r.Name, r.Content)
			if err != nil {
				renderErr = err
				break
			}
			rel := strings.TrimPrefix(r.Name, c.Meta.Name+"/")
			docsByTemplate[rel] = append(docsByTemplate[rel], docs...)
			allDocs = append(allDocs, docs...)
		}
	}

	if len(t.Asserts) == 0 {
		return []string{"test has no asserts"}
	}
	var problems []string
	for i, a := range t.Asserts {
		desc, err := evalAssert(a, t.DocumentIndex, t.Template, renderErr, allDocs, docsByTemplate)
		if err != nil {
			problems = append(problems, fmt.Sprintf("assert %d (%s): %v", i+1, desc, err))
		}
	}
	return problems
}

// evalAssert checks one assertion; it returns a short description and an error when the
// assertion does not hold.
func evalAssert(a map[string]interface{}, testDocIdx *int, testTemplate string, renderErr error,
	allDocs []Document, byTemplate map[string][]Document) (string, error) {
	negate := false
	docIdx := testDocIdx
	tmpl := testTemplate
	kind := ""
	var args map[string]interface{}
	for k, v := range a {
		switch k {
		case "not":
			negate, _ = v.(bool)
		case "documentIndex":
			f, ok := v.(float64)
			if !ok {
				return k, fmt.Errorf("documentIndex must be a number")
			}
			n := int(f)
			docIdx = &n
		case "template":
			tmpl, _ = v.(string)
		default:
			if kind != "" {
				return k, fmt.Errorf("one assertion kind per entry (got %s and %s)", kind, k)
			}
			kind = k
			if v == nil {
				args = map[string]interface{}{}
			} else if m, ok := v.(map[string]interface{}); ok {
				args = m
			} else {
				return k, fmt.Errorf("arguments must be a map")
			}
		}
	}
	desc := kind
	if p, ok := args["path"].(string); ok {
		desc += " " + p
	}

	if kind == "failedTemplate" {
		if renderErr == nil {
			if negate {
				return desc, nil
			}
			return desc, fmt.Errorf("expected rendering to fail, but it succeeded")
		}
		if negate {
			return desc, fmt.Errorf("expected rendering to succeed, got: %v", renderErr)
		}
		full := renderErr.Error()
		msg := full
		if i := strings.Index(full, "): "); strings.HasPrefix(full, "execution error at (") && i > 0 {
			msg = full[i+3:]
		}
		if want, ok := args["errorMessage"].(string); ok && msg != want {
			return desc, fmt.Errorf("error message\n  want: %s\n  got:  %s", want, msg)
		}
		if pat, ok := args["errorPattern"].(string); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				return desc, err
			}
			if !re.MatchString(full) {
				return desc, fmt.Errorf("error does not match /%s/: %s", pat, full)
			}
		}
		return desc, nil
	}
	if renderErr != nil {
		return desc, fmt.Errorf("rendering failed: %v", renderErr)
	}

	docs := allDocs
	if tmpl != "" {
		docs = byTemplate[strings.TrimPrefix(tmpl, "./")]
	}
	if kind == "hasDocuments" {
		want, ok := args["count"].(float64)
		if !ok {
			return desc, fmt.Errorf("hasDocuments needs count")
		}
		if (len(docs) == int(want)) == negate {
			return desc, fmt.Errorf("documents: want %s%d, got %d", notWord(negate), int(want), len(docs))
		}
		return desc, nil
	}
	if docIdx != nil {
		if *docIdx < 0 || *docIdx >= len(docs) {
			return desc, fmt.Errorf("documentIndex %d out of range (%d documents)", *docIdx, len(docs))
		}
		docs = docs[*docIdx : *docIdx+1]
	}
	if len(docs) == 0 {
		return desc, fmt.Errorf("no document rendered to check")
	}
	for _, d := range docs {
		ok, detail, err := checkDoc(kind, args, d.Object)
		if err != nil {
			return desc, err
		}
		if ok == negate {
			return desc, fmt.Errorf("%sin %s: %s", notWord(negate), d.Source, detail)
		}
	}
	return desc, nil
}

func notWord(negate bool) string {
	if negate {
		return "(negated) "
	}
	return ""
}

func show(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// normalize makes numbers comparable whatever their Go type (JSON round trip).
func normalize(v interface{}) interface{} {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		return v
	}
	return out
}

func equalValues(a, b interface{}) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

// isSubset reports whether every key of sub is in super with an equal (or, for maps,
// recursively subset) value.
func isSubset(sub, super interface{}) bool {
	sm, ok1 := sub.(map[string]interface{})
	pm, ok2 := super.(map[string]interface{})
	if !ok1 || !ok2 {
		return equalValues(sub, super)
	}
	for k, v := range sm {
		pv, ok := pm[k]
		if !ok || !isSubset(v, pv) {
			return false
		}
	}
	return true
}

func isEmptyValue(v interface{}) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []interface{}:
		return len(t) == 0
	case map[string]interface{}:
		return len(t) == 0
	case bool:
		return !t
	case float64:
		return t == 0
	}
	return false
}

// checkDoc evaluates one assertion on one document: ok, and a description of what was found.
func checkDoc(kind string, args map[string]interface{}, obj map[string]interface{}) (bool, string, error) {
	path, _ := args["path"].(string)
	var val interface{}
	var found bool
	if path != "" {
		var err error
		val, found, err = Lookup(obj, path)
		if err != nil {
			return false, "", err
		}
	}
	needPath := func() error {
		if path == "" {
			return fmt.Errorf("%s needs path", kind)
		}
		return nil
	}
	switch kind {
	case "equal", "notEqual":
		if err := needPath(); err != nil {
			return false, "", err
		}
		want, has := args["value"]
		if !has {
			return false, "", fmt.Errorf("%s needs value", kind)
		}
		eq := found && equalValues(val, want)
		if kind == "notEqual" {
			return !eq, fmt.Sprintf("%s = %s", path, show(val)), nil
		}
		if !found {
			return false, fmt.Sprintf("%s does not exist (want %s)", path, show(want)), nil
		}
		return eq, fmt.Sprintf("%s\n  want: %s\n  got:  %s", path, show(want), show(val)), nil
	case "exists", "notExists":
		if err := needPath(); err != nil {
			return false, "", err
		}
		if kind == "notExists" {
			return !found, fmt.Sprintf("%s exists: %s", path, show(val)), nil
		}
		return found, fmt.Sprintf("%s does not exist", path), nil
	case "isNull", "isNotNull":
		if err := needPath(); err != nil {
			return false, "", err
		}
		null := !found || val == nil
		if kind == "isNotNull" {
			return !null, fmt.Sprintf("%s is null", path), nil
		}
		return null, fmt.Sprintf("%s = %s, want null", path, show(val)), nil
	case "isEmpty", "isNotEmpty":
		if err := needPath(); err != nil {
			return false, "", err
		}
		empty := !found || isEmptyValue(val)
		if kind == "isNotEmpty" {
			return !empty, fmt.Sprintf("%s is empty", path), nil
		}
		return empty, fmt.Sprintf("%s = %s, want empty", path, show(val)), nil
	case "matchRegex", "notMatchRegex":
		if err := needPath(); err != nil {
			return false, "", err
		}
		pat, _ := args["pattern"].(string)
		re, err := regexp.Compile(pat)
		if err != nil {
			return false, "", err
		}
		s, isStr := val.(string)
		if !found || !isStr {
			return false, fmt.Sprintf("%s is not a string: %s", path, show(val)), nil
		}
		m := re.MatchString(s)
		if kind == "notMatchRegex" {
			return !m, fmt.Sprintf("%s = %q matches /%s/", path, s, pat), nil
		}
		return m, fmt.Sprintf("%s = %q does not match /%s/", path, s, pat), nil
	case "contains", "notContains":
		if err := needPath(); err != nil {
			return false, "", err
		}
		content, has := args["content"]
		if !has {
			return false, "", fmt.Errorf("%s needs content", kind)
		}
		subset, _ := args["any"].(bool)
		list, isList := val.([]interface{})
		if !found || !isList {
			if kind == "notContains" {
				return true, "", nil
			}
			return false, fmt.Sprintf("%s is not a list: %s", path, show(val)), nil
		}
		count := 0
		for _, el := range list {
			if (subset && isSubset(content, el)) || (!subset && equalValues(content, el)) {
				count++
			}
		}
		if kind == "notContains" {
			return count == 0, fmt.Sprintf("%s contains %s", path, show(content)), nil
		}
		if want, ok := args["count"].(float64); ok {
			return count == int(want), fmt.Sprintf("%s contains %s %d times, want %d", path, show(content), count, int(want)), nil
		}
		return count > 0, fmt.Sprintf("%s = %s does not contain %s", path, show(val), show(content)), nil
	case "isSubset":
		if err := needPath(); err != nil {
			return false, "", err
		}
		content := args["content"]
		return found && isSubset(content, val), fmt.Sprintf("%s = %s is not a superset of %s", path, show(val), show(content)), nil
	case "lengthEqual":
		if err := needPath(); err != nil {
			return false, "", err
		}
		want, _ := args["count"].(float64)
		n := -1
		switch t := val.(type) {
		case []interface{}:
			n = len(t)
		case map[string]interface{}:
			n = len(t)
		}
		return n == int(want), fmt.Sprintf("%s has length %d, want %d", path, n, int(want)), nil
	case "isKind":
		want, _ := args["of"].(string)
		return obj["kind"] == want, fmt.Sprintf("kind is %v, want %s", obj["kind"], want), nil
	case "isAPIVersion":
		want, _ := args["of"].(string)
		return obj["apiVersion"] == want, fmt.Sprintf("apiVersion is %v, want %s", obj["apiVersion"], want), nil
	}
	return false, "", fmt.Errorf("unknown assertion kind %q", kind)
}
