package sessionless_test

import (
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// api is what the module's packages declare: by package name (several
// packages may share one, such as sqlstore), the exported names, with
// methods and fields as Type.Name.
type api map[string]map[string]bool

// loadAPI parses the non-test Go files of the module's packages (not
// cmd, integration, bench or internal) and returns what they declare.
func loadAPI(t *testing.T) api {
	t.Helper()
	a := api{}
	eachGoFile(t, []string{"cmd", "integration", "bench", "internal", "docs", "scripts"}, func(_ string, f *ast.File) {
		names := a[f.Name.Name]
		if names == nil {
			names = map[string]bool{}
			a[f.Name.Name] = names
		}
		declare(f, names)
	})
	return a
}

// eachGoFile calls do with every non-test Go file of the module, parsed
// with its comments, but those under the top-level directories skip
// and hidden ones.
func eachGoFile(t *testing.T, skip []string, do func(path string, f *ast.File)) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || slices.Contains(skip, path)) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		do(path, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// declare records the exported names f declares.
func declare(f *ast.File, names map[string]bool) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names[d.Name.Name] = true
				continue
			}
			names[recvName(d.Recv.List[0].Type)+"."+d.Name.Name] = true
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				case *ast.TypeSpec:
					names[s.Name.Name] = true
					declareMembers(s, names)
				}
			}
		}
	}
}

// declareMembers records the fields and interface methods of s as
// Type.Name, embedded ones by their type's name.
func declareMembers(s *ast.TypeSpec, names map[string]bool) {
	var fields *ast.FieldList
	switch t := s.Type.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields = t.Methods
	default:
		return
	}
	for _, f := range fields.List {
		for _, n := range f.Names {
			names[s.Name.Name+"."+n.Name] = true
		}
		if len(f.Names) == 0 {
			names[s.Name.Name+"."+recvName(f.Type)] = true
		}
	}
}

// recvName is the name of a (pointer to a, selector of a) type.
func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.SelectorExpr:
		return t.Sel.Name
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}

// has reports whether package pkg declares name (Ident or Type.Member).
// A member of a type that embeds another is looked up no further: the
// docs name members where they are declared.
func (a api) has(pkg, name string) bool { return a[pkg][name] }

// apiRef is `pkg.Name` or `pkg.Type.Member` in prose or code.
var apiRef = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.([A-Z][A-Za-z0-9_]*)(?:\.([A-Z][A-Za-z0-9_]*))?`)

// TestDocsNameTheAPI: every package.Identifier (and package.Type.Member)
// that README.md and docs/*.md name, in prose or in code, exists: a
// renamed or removed API leaves no stale name behind (the docs named
// apitoken.Manager.Prune after it became Purge).
func TestDocsNameTheAPI(t *testing.T) {
	a := loadAPI(t)
	files, _ := filepath.Glob("docs/*.md")
	files = append(files, "README.md")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range apiRef.FindAllStringSubmatch(text, -1) {
			pkg, name, member := m[1], m[2], m[3]
			if a[pkg] == nil {
				continue // not one of the module's packages (json.Marshal, http.Handler)
			}
			full := name
			if member != "" && !a.has(pkg, name+"."+member) && a.has(pkg, name) && isType(a, pkg, name) {
				full = name + "." + member
			}
			if !a.has(pkg, full) {
				t.Errorf("%s names %s.%s, which package %s does not declare", file, pkg, full, pkg)
			}
		}
	}
}

// isType reports whether pkg declares name as a type (some member of it
// is recorded).
func isType(a api, pkg, name string) bool {
	for n := range a[pkg] {
		if strings.HasPrefix(n, name+".") {
			return true
		}
	}
	return false
}

// TestDocLinksResolve: every doc link of the packages' comments
// ([Ident], [Type.Method], [pkg.Ident] of the module) names something
// that exists (go doc printed "[Manager.Handler]" literally after the
// method became Handlers).
func TestDocLinksResolve(t *testing.T) {
	a := loadAPI(t)
	eachGoFile(t, []string{"cmd", "integration", "bench", "docs", "scripts"}, func(path string, f *ast.File) {
		for _, cg := range f.Comments {
			for _, link := range docLinks(cg.Text()) {
				pkg := f.Name.Name
				if link.ImportPath != "" {
					pkg = filepath.Base(link.ImportPath)
				}
				name := link.Name
				if link.Recv != "" {
					name = link.Recv + "." + link.Name
				}
				if link.Name != "" && a[pkg] != nil && !a.has(pkg, name) && !unexportedIn(path, link) {
					t.Errorf("%s: doc link [%s] names nothing package %s declares", path, linkText(link), pkg)
				}
			}
		}
	})
}

// unexportedIn reports whether a link names an unexported identifier (a
// package's own, which loadAPI does not record).
func unexportedIn(_ string, l *comment.DocLink) bool {
	n := l.Name
	if l.Recv != "" && l.Recv[0] >= 'a' && l.Recv[0] <= 'z' {
		return true
	}
	return n != "" && n[0] >= 'a' && n[0] <= 'z'
}

func linkText(l *comment.DocLink) string {
	s := l.Name
	if l.Recv != "" {
		s = l.Recv + "." + s
	}
	if l.ImportPath != "" {
		s = l.ImportPath + "." + s
	}
	return s
}

// docLinks returns the doc links of a comment's text, as go doc reads
// them: every [Name], [Recv.Name], [pkg.Name] whose package is known.
func docLinks(text string) []*comment.DocLink {
	p := comment.Parser{
		LookupPackage: func(name string) (string, bool) { return name, true },
		LookupSym:     func(recv, name string) bool { return true },
	}
	var links []*comment.DocLink
	var walk func([]comment.Text)
	walk = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case *comment.DocLink:
				links = append(links, t)
			case *comment.Link:
				walk(t.Text)
			case *comment.Italic, *comment.Plain:
			}
		}
	}
	for _, b := range p.Parse(text).Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			walk(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				for _, c := range it.Content {
					if p, ok := c.(*comment.Paragraph); ok {
						walk(p.Text)
					}
				}
			}
		}
	}
	return links
}

// TestDocsPromiseNothing: the docs describe what the code does now; a
// feature they call planned either landed (the docs called DPoP planned
// after it shipped) or does not belong there.
func TestDocsPromiseNothing(t *testing.T) {
	promise := regexp.MustCompile(`(?i)\b(planned|coming soon|not yet (implemented|supported)|TODO|TBD)\b`)
	files, _ := filepath.Glob("docs/*.md")
	for _, file := range append(files, "README.md") {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := promise.FindString(line); m != "" {
				t.Errorf("%s:%d says %q: %s", file, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
