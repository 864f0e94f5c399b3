package sqlschema

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Dialect is a SQL database the stores run on; apitoken/sqlstore,
// revocation/sqlstore and token/refresh/sqlstore export it as their own
// Dialect.
type Dialect int

// Dialects. The zero value is no dialect: the stores refuse it.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String returns the name of the database.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "SQLite"
	case Postgres:
		return "PostgreSQL"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// MaxNameLen is PostgreSQL's limit on identifiers.
const MaxNameLen = 63

// CheckTable reports whether name is a table name the stores accept:
// [a-z_][a-z0-9_]*, at most MaxNameLen characters, so that it can be
// interpolated into SQL (quoted) without escaping.
func CheckTable(name string) error {
	ok := name != "" && len(name) <= MaxNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("invalid table name %q: want [a-z_][a-z0-9_]*, at most %d characters", name, MaxNameLen)
	}
	return nil
}

// IndexName is the name of the index of table on column. PostgreSQL would
// truncate a name longer than MaxNameLen, possibly onto the name of
// another relation (CREATE INDEX IF NOT EXISTS would then do nothing), so
// a long table name is shortened and made unique with a hash.
func IndexName(table, column string) string {
	return RelatedName(table, "_"+column+"_idx")
}

// RelatedName is the name of a relation of table's: table followed by
// suffix, a long table name shortened and made unique with a hash as for
// [IndexName].
func RelatedName(table, suffix string) string {
	if len(table)+len(suffix) <= MaxNameLen {
		return table + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	tag := fmt.Sprintf("_%08x", h.Sum32())
	return table[:MaxNameLen-len(suffix)-len(tag)] + tag + suffix
}

// Rebind returns q, written with ? placeholders, in the placeholders of
// d: unchanged on SQLite, numbered ($1, $2, …) on PostgreSQL. The query
// must have no '?' elsewhere (in string literals).
func (d Dialect) Rebind(q string) string {
	if d == Postgres {
		return numbered(q)
	}
	return q
}

// numbered rewrites the ? placeholders of q as $1, $2, ….
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
