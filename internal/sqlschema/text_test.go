package sqlschema_test

import (
	"testing"

	"github.com/sessionless/sessionless/internal/sqlschema"
)

func TestText(t *testing.T) {
	for _, ss := range [][]string{nil, {""}, {"usr_42", "CI – déploiement", "日本"}} {
		if !sqlschema.Text(ss...) {
			t.Errorf("Text(%q) = false", ss)
		}
	}
	for _, ss := range [][]string{{"\x00"}, {"a\x00b"}, {"\xff"}, {"\xc3("}, {"ok", "a\x00"}} {
		if sqlschema.Text(ss...) {
			t.Errorf("Text(%q) = true", ss)
		}
	}
}
