package main

// Tests of the parts of the renderer whose behaviour must match Helm's.

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCoalesceMergesMapsAndNullRemoves(t *testing.T) {
	defaults := map[string]interface{}{
		"a": map[string]interface{}{"x": 1.0, "y": 2.0},
		"b": []interface{}{1.0},
		"c": "keep",
		"d": "drop",
	}
	user := map[string]interface{}{
		"a": map[string]interface{}{"y": 3.0, "z": 4.0},
		"b": []interface{}{9.0},
		"d": nil,
		"e": "new",
	}
	got := Coalesce(defaults, user)
	want := map[string]interface{}{
		"a": map[string]interface{}{"x": 1.0, "y": 3.0, "z": 4.0},
		"b": []interface{}{9.0},
		"c": "keep",
		"e": "new",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Coalesce = %v, want %v", got, want)
	}
	if _, still := defaults["a"].(map[string]interface{})["z"]; still {
		t.Fatal("Coalesce modified the defaults")
	}
}

func TestParseSetTypesLikeHelm(t *testing.T) {
	vals := map[string]interface{}{}
	if err := ParseSet(vals, `a.b=3,a.c=true,d=null,e=007,f=x\,y,g\.h=1`, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"a":   map[string]interface{}{"b": int64(3), "c": true},
		"d":   nil,
		"e":   "007",
		"f":   "x,y",
		"g.h": int64(1),
	}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("ParseSet = %#v, want %#v", vals, want)
	}
}

func TestPathLookup(t *testing.T) {
	obj := map[string]interface{}{
		"metadata": map[string]interface{}{
			"annotations": map[string]interface{}{"checksum/config": "abc"},
			"labels":      map[string]interface{}{"app.kubernetes.io/name": "pgq"},
		},
		"spec": map[string]interface{}{"ports": []interface{}{map[string]interface{}{"port": 9090.0}}},
	}
	for path, want := range map[string]interface{}{
		`metadata.annotations["checksum/config"]`:  "abc",
		`metadata.labels.app\.kubernetes\.io/name`: "pgq",
		`spec.ports[0].port`:                       9090.0,
	} {
		got, ok, err := Lookup(obj, path)
		if err != nil || !ok || got != want {
			t.Errorf("Lookup(%s) = %v, %v, %v; want %v", path, got, ok, err, want)
		}
	}
	if _, ok, _ := Lookup(obj, "spec.ports[3].port"); ok {
		t.Error("index out of range must not be found")
	}
}

func writeChart(t *testing.T, templates map[string]string) *Chart {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	files := map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: \"1\"\ndescription: d\n",
		"values.yaml": "name: x\nnested:\n  key: v\n",
	}
	for name, text := range templates {
		files["templates/"+name] = text
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t *testing.T, c *Chart, strict bool) ([]Rendered, error) {
	t.Helper()
	caps, err := NewCapabilities("v1.30.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	return Render(c, Coalesce(c.Values, nil), RenderOptions{
		Release: Release{Name: "r", Namespace: "ns"}, Capabilities: caps, Strict: strict,
	})
}

func TestHelmFunctionsAndMessages(t *testing.T) {
	c := writeChart(t, map[string]string{
		"_helpers.tpl": `{{- define "demo.name" -}}{{ .Values.name }}-{{ .Release.Name }}{{- end -}}`,
		"cm.yaml": `data:
  name: {{ include "demo.name" . }}
  tpl: {{ tpl "{{ .Release.Namespace }}" . }}
  yaml: {{ toYaml .Values.nested | nindent 4 }}
  missing: "{{ .Values.nope }}"`,
	})
	out, err := render(t, c, false)
	if err != nil {
		t.Fatal(err)
	}
	got := out[0].Content
	for _, want := range []string{"name: x-r", "tpl: ns", "key: v", `missing: ""`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if _, err := render(t, c, true); err == nil || !strings.Contains(err.Error(), `map has no entry for key "nope"`) {
		t.Errorf("strict mode must refuse a missing key, got %v", err)
	}

	c = writeChart(t, map[string]string{
		"_helpers.tpl": `{{- define "demo.check" -}}{{ fail "both set" }}{{- end -}}`,
		"a.yaml":       `{{ include "demo.check" . }}`,
	})
	_, err = render(t, c, false)
	if err == nil || err.Error() != "execution error at (demo/templates/a.yaml:1:3): both set" {
		t.Errorf("want Helm's execution error, got %v", err)
	}

	c = writeChart(t, map[string]string{"a.yaml": `{{ required "name is required" .Values.unset }}`})
	_, err = render(t, c, false)
	if err == nil || !strings.HasSuffix(err.Error(), ": name is required") {
		t.Errorf("required: got %v", err)
	}
}

// The chart keeps its helpers in several _*.tpl files that call one another: every one is
// loaded (and none is rendered as a manifest), whatever its name sorts after.
func TestHelpersFromEveryPartial(t *testing.T) {
	c := writeChart(t, map[string]string{
		"_names.tpl":    `{{- define "demo.name" -}}n-{{ include "demo.suffix" . }}{{- end -}}`,
		"_z_suffix.tpl": `{{- define "demo.suffix" -}}{{ .Release.Name }}{{- end -}}`,
		"cm.yaml":       `name: {{ include "demo.name" . }}`,
	})
	out, err := render(t, c, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Content != "name: n-r" {
		t.Errorf("want one document \"name: n-r\", got %+v", out)
	}
}

func TestSchemaErrorsNameTheKey(t *testing.T) {
	schema := []byte(`{"type": "object", "additionalProperties": false,
		"properties": {"replicas": {"type": "integer", "minimum": 0}}}`)
	err := ValidateSchema("demo", schema, map[string]interface{}{"replicas": "two", "extra": 1.0})
	if err == nil {
		t.Fatal("schema violations must fail")
	}
	for _, want := range []string{"Additional property extra is not allowed", "replicas: Invalid type"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := ValidateSchema("demo", schema, map[string]interface{}{"replicas": 2.0}); err != nil {
		t.Errorf("valid values refused: %v", err)
	}
}

func TestSplitDocumentsSkipsEmptyAndReportsBadYAML(t *testing.T) {
	docs, err := SplitDocuments("x", "---\n# only a comment\n---\na: 1\n---\n\n")
	if err != nil || len(docs) != 1 {
		t.Fatalf("docs = %v, err = %v", docs, err)
	}
	_, err = SplitDocuments("x", "a: [1\n")
	if err == nil || !strings.Contains(err.Error(), "YAML parse error in x") {
		t.Errorf("bad YAML: got %v", err)
	}
}

// The repository's generated deploy files match their sources (what the deploy checks run
// as `pgq-render generate --check`), and the rules file keeps the chart's spec.
func TestGeneratedDeployFiles(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	files, err := generateAll(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("want 3 generated files, got %d", len(files))
	}
	for _, g := range files {
		if !strings.HasPrefix(g.path, "operator-manifests/") {
			t.Errorf("%s: generated files belong to operator-manifests/", g.path)
		}
	}
	rules := string(files[1].content)
	for _, want := range []string{"# GENERATED by tests/deploy/generate", "\nspec:\n  groups:\n", "alert: PgqNoReadyWorkers", `job="pgq-worker"`} {
		if !strings.Contains(rules, want) {
			t.Errorf("generated rules lack %q", want)
		}
	}
	if strings.Contains(rules, `namespace="`) || strings.Contains(rules, "helm.sh/chart") {
		t.Errorf("generated rules must not select a namespace or carry Helm labels:\n%.400s", rules)
	}
	// The KEDA alerts are the keda component's patch, and only there.
	keda := string(files[2].content)
	for _, alert := range []string{"alert: PgqJobsWaitingNoWorkers", "alert: PgqScalerErrors"} {
		if strings.Contains(rules, alert) || !strings.Contains(keda, alert) {
			t.Errorf("%s must be in %s only", alert, files[2].path)
		}
	}
	if !strings.Contains(keda, "- op: add\n  path: /spec/groups/-\n") || strings.Contains(keda, "PgqNoReadyWorkers") {
		t.Errorf("the keda patch must append a group of the KEDA alerts only:\n%.600s", keda)
	}
}
