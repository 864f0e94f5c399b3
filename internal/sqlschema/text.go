package sqlschema

import (
	"strings"
	"unicode/utf8"
)

// Text reports whether every one of ss is a string that a TEXT column
// holds on both dialects: valid UTF-8 without NUL, which PostgreSQL's text
// requires. The stores refuse to write any other string on either
// dialect, so that they answer alike on both and a table moved from one
// database to the other holds the same rows. A lookup by another string
// finds nothing, and is answered without asking PostgreSQL, whose query
// would fail; on SQLite a store may still ask, for rows an earlier
// release wrote before it refused such strings.
func Text(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}
