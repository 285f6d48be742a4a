package main

// Loading a chart directory: Chart.yaml, values.yaml, values.schema.json,
// templates/ and the other files that templates may read through .Files.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver"
	"sigs.k8s.io/yaml"
)

// ChartMeta is what templates see as .Chart (the Chart.yaml fields Helm exposes).
type ChartMeta struct {
	APIVersion  string            `json:"apiVersion"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	KubeVersion string            `json:"kubeVersion"`
	Description string            `json:"description"`
	Type        string            `json:"type"`
	Home        string            `json:"home"`
	Icon        string            `json:"icon"`
	Sources     []string          `json:"sources"`
	Keywords    []string          `json:"keywords"`
	Annotations map[string]string `json:"annotations"`
	Maintainers []struct {
		Name  string `json:"name"`
		Email string `json:"email"`
		URL   string `json:"url"`
	} `json:"maintainers"`
	Dependencies []interface{} `json:"dependencies"`
}

// Chart is a loaded chart directory.
type Chart struct {
	Dir       string
	Meta      ChartMeta
	Values    map[string]interface{}
	Schema    []byte            // nil when the chart has no values.schema.json
	Templates map[string]string // "<chart>/templates/x.yaml" -> source
	Files     Files             // every other file, by path relative to the chart root
}

// Files is .Files: the chart's non-template files.
type Files map[string][]byte

// Get returns a file's content as a string ("" when absent), like Helm's .Files.Get.
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content ("" when absent).
func (f Files) GetBytes(name string) []byte { return f[name] }

// Lines returns a file split into lines.
func (f Files) Lines(name string) []string {
	if f[name] == nil {
		return []string{}
	}
	return strings.Split(strings.TrimRight(string(f[name]), "\n"), "\n")
}

// Glob returns the files whose path matches pattern (path.Match syntax, plus "**" for any
// number of directories).
func (f Files) Glob(pattern string) Files {
	out := Files{}
	re := globRegexp(pattern)
	for name, data := range f {
		if re.MatchString(name) {
			out[name] = data
		}
	}
	return out
}

func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

var chartNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// LoadChart reads a chart directory. It checks what `helm lint` checks about Chart.yaml.
func LoadChart(dir string) (*Chart, error) {
	c := &Chart{Dir: dir, Templates: map[string]string{}, Files: Files{}}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	if err := yaml.UnmarshalStrict(raw, &c.Meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	if err := checkMeta(&c.Meta, filepath.Base(dir)); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}

	c.Values = map[string]interface{}{}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if err := yaml.Unmarshal(raw, &c.Values); err != nil {
			return nil, fmt.Errorf("values.yaml: %w", err)
		}
		if c.Values == nil {
			c.Values = map[string]interface{}{}
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.schema.json")); err == nil {
		c.Schema = raw
	} else if !os.IsNotExist(err) {
		return nil, err
	}

	ignore, err := loadHelmignore(dir)
	if err != nil {
		return nil, err
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignore.match(rel, info.IsDir()) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if info.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			c.Templates[path.Join(c.Meta.Name, rel)] = string(data)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json":
		default:
			c.Files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(c.Templates) == 0 {
		return nil, fmt.Errorf("chart %s has no templates", dir)
	}
	return c, nil
}

func checkMeta(m *ChartMeta, dirName string) error {
	if m.APIVersion != "v2" {
		return fmt.Errorf("apiVersion must be v2, got %q", m.APIVersion)
	}
	if m.Name == "" || !chartNameRe.MatchString(m.Name) {
		return fmt.Errorf("name %q is not a valid chart name", m.Name)
	}
	if m.Name != dirName {
		return fmt.Errorf("chart name %q does not match its directory %q", m.Name, dirName)
	}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		return fmt.Errorf("version %q is not strict SemVer 2: %v", m.Version, err)
	}
	if m.AppVersion == "" {
		return fmt.Errorf("appVersion is empty")
	}
	if m.Type != "" && m.Type != "application" && m.Type != "library" {
		return fmt.Errorf("type must be application or library, got %q", m.Type)
	}
	if m.KubeVersion != "" {
		if _, err := semver.NewConstraint(m.KubeVersion); err != nil {
			return fmt.Errorf("kubeVersion %q: %v", m.KubeVersion, err)
		}
	}
	if m.Description == "" {
		return fmt.Errorf("description is empty")
	}
	return nil
}

// helmignore holds the patterns of a .helmignore file (the subset Helm documents: globs,
// trailing "/" for directories, "!" negation is not supported and is refused).
type helmignore struct{ patterns []string }

func loadHelmignore(dir string) (helmignore, error) {
	h := helmignore{patterns: []string{".helmignore"}}
	raw, err := os.ReadFile(filepath.Join(dir, ".helmignore"))
	if os.IsNotExist(err) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			return h, fmt.Errorf(".helmignore: negation (%q) is not supported by this renderer", line)
		}
		h.patterns = append(h.patterns, line)
	}
	return h, nil
}

func (h helmignore) match(rel string, isDir bool) bool {
	base := path.Base(rel)
	for _, p := range h.patterns {
		dirOnly := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		if dirOnly && !isDir {
			continue
		}
		target := base
		if strings.Contains(p, "/") {
			target = rel
			p = strings.TrimPrefix(p, "/")
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// SortedTemplateNames returns the template names in a stable order.
func (c *Chart) SortedTemplateNames() []string {
	names := make([]string, 0, len(c.Templates))
	for n := range c.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
