package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/sqlschema"
	"github.com/sessionless/sessionless/internal/sqlschema/schematest"
	"github.com/sessionless/sessionless/internal/testenv/testdb"
	"github.com/sessionless/sessionless/token/refresh"
	"github.com/sessionless/sessionless/token/refresh/sqlstore"
	"github.com/sessionless/sessionless/token/refresh/storetest"
)

// fixture is two stores on two handles of one fresh table, as two
// instances would have them, and a third handle for looking at the table
// directly.
type fixture struct {
	a, b    *sqlstore.Store
	raw     *sql.DB
	name    string
	table   string // quoted
	backend schematest.Backend
}

func pair(t *testing.T, b schematest.Backend) fixture {
	t.Helper()
	open, table := b.Fresh(t, "refresh_test")
	cfg := sqlstore.Config{Dialect: b.Dialect, Table: table}
	return fixture{
		a: schematest.New(t, sqlstore.New, open(t), cfg), b: schematest.New(t, sqlstore.New, open(t), cfg),
		raw: open(t), name: table, table: `"` + table + `"`, backend: b,
	}
}

// exec runs q, written with ? placeholders, on the raw handle.
func (f fixture) exec(t *testing.T, q string, args ...any) { f.backend.Exec(t, f.raw, q, args...) }

func TestConformance(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		storetest.Run(t, func(t *testing.T) (refresh.Store, refresh.Store) {
			f := pair(t, be)
			return f.a, f.b
		})
	})
}

// TestRotationRacingRevocation: rotations of a family racing its
// revocation (or its subject's) never leave a live token in it.
func TestRotationRacingRevocation(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		for round := range 40 {
			r := storetest.NewRecord("usr_race", storetest.Base)
			if err := f.a.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var last refresh.Record
			wg.Go(func() { // a client rotating as fast as it can
				cur := r
				for i := range 20 {
					at := storetest.Base.Add(time.Duration(i+1) * time.Second)
					next := storetest.Successor(cur, at)
					if err := f.b.Rotate(ctx, cur.Hash, at, next); err != nil {
						if !errors.Is(err, refresh.ErrRevoked) {
							t.Errorf("Rotate: %v", err)
						}
						break
					}
					cur = next
				}
				last = cur
			})
			wg.Go(func() {
				var err error
				if round%2 == 0 {
					_, err = f.a.RevokeFamily(ctx, r.Family, storetest.Base.Add(time.Hour))
				} else {
					err = f.a.RevokeSubject(ctx, "usr_race", storetest.Base.Add(time.Hour))
				}
				if err != nil {
					t.Errorf("revoking: %v", err)
				}
			})
			wg.Wait()
			if got, err := f.a.Get(ctx, last.Hash); err != nil || got.RevokedAt.IsZero() {
				t.Fatalf("round %d: the family's newest token survived its revocation: %+v, %v", round, got, err)
			}
		}
	})
}

// TestConcurrentRevokeFamily revokes one family from many goroutines on
// two handles: every call returns the access tokens of the whole family.
func TestConcurrentRevokeFamily(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		r := storetest.NewRecord("usr_1", storetest.Base)
		if err := f.a.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		want := []string{r.Access.ID}
		for i := range 5 {
			at := storetest.Base.Add(time.Duration(i+1) * time.Minute)
			next := storetest.Successor(r, at)
			if err := f.b.Rotate(ctx, r.Hash, at, next); err != nil {
				t.Fatal(err)
			}
			r = next
			want = append(want, r.Access.ID)
		}
		const n = 16
		var wg sync.WaitGroup
		slices.Sort(want)
		for i := range n {
			s := f.a
			if i%2 == 1 {
				s = f.b
			}
			wg.Go(func() {
				access, err := s.RevokeFamily(ctx, r.Family, storetest.Base.Add(time.Hour))
				if err != nil {
					t.Errorf("RevokeFamily: %v", err)
				}
				var got []string
				for _, a := range access {
					got = append(got, a.ID)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("a concurrent RevokeFamily returned %v, want all of %v", got, want)
				}
			})
		}
		wg.Wait()
	})
}

// TestAgainstMemory runs random operations on a MemoryStore and on the
// SQL store and compares what they answer.
func TestAgainstMemory(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		mem := refresh.NewMemoryStore()
		ctx := context.Background()
		rng := mrand.New(mrand.NewPCG(1, 2))
		at := func() time.Time {
			if rng.IntN(20) == 0 {
				return time.Time{}
			}
			return storetest.Base.Add(time.Duration(rng.IntN(40*24)-20*24) * time.Hour)
		}
		// fix clears an access token expiry derived from a zero time:
		// the store refuses times before 1970.
		fix := func(r refresh.Record) refresh.Record {
			if r.Access.ExpiresAt.Year() < 1970 {
				r.Access.ExpiresAt = time.Time{}
			}
			return r
		}
		var recs []refresh.Record   // everything ever tried, for Get
		var stored []refresh.Record // what was stored, to pick from
		pick := func() refresh.Record {
			if len(stored) == 0 || rng.IntN(10) == 0 {
				return fix(storetest.NewRecord("usr_x", at()))
			}
			// Mostly recent records, so that families live on.
			return stored[len(stored)-1-min(rng.IntN(len(stored)), rng.IntN(8))]
		}
		subjects := []string{"usr_a", "usr_b", "usr_c"}
		kind := func(err error) string {
			for _, e := range []error{refresh.ErrNotFound, refresh.ErrSpent, refresh.ErrRevoked, refresh.ErrExists} {
				if errors.Is(err, e) {
					return e.Error()
				}
			}
			if err != nil {
				return "unexpected: " + err.Error()
			}
			return "ok"
		}
		outcomes := map[string]int{}
		defer func() { t.Logf("outcomes: %v", outcomes) }()
		for step := range 400 {
			var op string
			var m, s string
			switch rng.IntN(18) {
			case 0, 1, 2, 3:
				r := fix(storetest.NewRecord(subjects[rng.IntN(len(subjects))], at()))
				if rng.IntN(8) == 0 {
					r = pick() // an existing hash
				}
				op = "Create"
				m, s = kind(mem.Create(ctx, r)), kind(f.a.Create(ctx, r))
				recs = append(recs, r)
				if m == "ok" {
					stored = append(stored, r)
				}
			case 4, 5, 6, 7, 8, 9, 10:
				old := pick()
				now := at()
				next := fix(storetest.Successor(old, now))
				if rng.IntN(10) == 0 {
					next.Hash = pick().Hash
				}
				op = "Rotate"
				m, s = kind(mem.Rotate(ctx, old.Hash, now, next)), kind(f.b.Rotate(ctx, old.Hash, now, next))
				recs = append(recs, next)
				if m == "ok" {
					stored = append(stored, next)
				}
			case 11, 12:
				fam := pick().Family
				now := at()
				ma, merr := mem.RevokeFamily(ctx, fam, now)
				sa, serr := f.a.RevokeFamily(ctx, fam, now)
				op = "RevokeFamily"
				m, s = kind(merr), kind(serr)
				ids := func(as []refresh.AccessToken) []string {
					var out []string
					for _, a := range as {
						out = append(out, a.ID+"@"+a.ExpiresAt.String())
					}
					slices.Sort(out)
					return out
				}
				if mi, si := ids(ma), ids(sa); !slices.Equal(mi, si) {
					t.Fatalf("step %d: RevokeFamily returned %v, the MemoryStore %v", step, si, mi)
				}
			case 13:
				sub := subjects[rng.IntN(len(subjects))]
				now := at()
				op = "RevokeSubject"
				m, s = kind(mem.RevokeSubject(ctx, sub, now)), kind(f.b.RevokeSubject(ctx, sub, now))
			case 14, 15:
				c, u := at().Add(-15*24*time.Hour), at().Add(-5*24*time.Hour)
				op = "Purge"
				mn, merr := mem.Purge(ctx, c, u)
				sn, serr := f.a.Purge(ctx, c, u)
				m, s = fmt.Sprint(kind(merr), " ", mn), fmt.Sprint(kind(serr), " ", sn)
			case 16, 17:
				sub := append(subjects, "usr_x")[rng.IntN(len(subjects)+1)]
				limit := rng.IntN(6)
				op = "Families"
				mf, merr := mem.Families(ctx, sub, limit)
				sf, serr := f.b.Families(ctx, sub, limit)
				m, s = fmt.Sprint(kind(merr), " ", families(mf)), fmt.Sprint(kind(serr), " ", families(sf))
				if m != s {
					t.Fatalf("step %d: Families(%s, %d) =\n%s\nthe MemoryStore says\n%s", step, sub, limit, s, m)
				}
				m, s = fmt.Sprint(kind(merr), " ", len(mf)), fmt.Sprint(kind(serr), " ", len(sf))
			}
			if m != s {
				t.Fatalf("step %d: %s = %s, the MemoryStore says %s", step, op, s, m)
			}
			outcomes[op+": "+m]++
			if step%20 != 19 {
				continue
			}
			for _, r := range recs {
				mr, merr := mem.Get(ctx, r.Hash)
				sr, serr := f.b.Get(ctx, r.Hash)
				if kind(merr) != kind(serr) {
					t.Fatalf("step %d, after %s: Get = %v, the MemoryStore says %v", step, op, serr, merr)
				}
				if merr == nil && !sameRecord(mr, sr) {
					t.Fatalf("step %d, after %s: Get = %+v\nthe MemoryStore has %+v", step, op, sr, mr)
				}
			}
		}
	})
}

// families describes fs, times to the nanosecond, to compare them.
func families(fs []refresh.Family) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s %+v %d %d %t %t;", f.ID, f.Grant, f.Created.UnixNano(), f.LastUsed.UnixNano(), f.Created.IsZero(), f.LastUsed.IsZero())
	}
	return b.String()
}

func sameRecord(a, b refresh.Record) bool {
	return a.Hash == b.Hash && a.Family == b.Family && a.Grant == b.Grant &&
		a.FamilyCreated.Equal(b.FamilyCreated) && a.IssuedAt.Equal(b.IssuedAt) &&
		a.SpentAt.Equal(b.SpentAt) && a.RevokedAt.Equal(b.RevokedAt) &&
		a.Access.Issuer == b.Access.Issuer && a.Access.ID == b.Access.ID && a.Access.ExpiresAt.Equal(b.Access.ExpiresAt) &&
		a.FamilyCreated.IsZero() == b.FamilyCreated.IsZero() && a.IssuedAt.IsZero() == b.IssuedAt.IsZero() &&
		a.Access.ExpiresAt.IsZero() == b.Access.ExpiresAt.IsZero() && bytes.Equal(a.Seed, b.Seed)
}

// TestZeroTimes: zero times round-trip as zero times, and the store
// refuses the times its columns cannot hold, storing nothing.
func TestZeroTimes(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		r := storetest.NewRecord("usr", time.Time{})
		r.Access = refresh.AccessToken{}
		if err := f.a.Create(ctx, r); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := f.b.Get(ctx, r.Hash)
		if err != nil || !sameRecord(got, r) || !got.IssuedAt.IsZero() || !got.Access.ExpiresAt.IsZero() {
			t.Errorf("Get = %+v, %v; want %+v", got, err, r)
		}

		for _, bad := range []time.Time{
			time.Unix(0, 0),
			time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			r := storetest.NewRecord("usr", storetest.Base)
			r.Access.ExpiresAt = bad
			if err := f.a.Create(ctx, r); err == nil {
				t.Errorf("Create with a time of %v succeeded", bad)
			}
			if _, err := f.a.Get(ctx, r.Hash); !errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("a refused Create stored its record: %v", err)
			}
			good := storetest.NewRecord("usr", storetest.Base)
			if err := f.a.Create(ctx, good); err != nil {
				t.Fatal(err)
			}
			if err := f.a.Rotate(ctx, good.Hash, bad, storetest.Successor(good, storetest.Base)); err == nil {
				t.Errorf("Rotate at %v succeeded", bad)
			}
			if _, err := f.a.RevokeFamily(ctx, good.Family, bad); err == nil {
				t.Errorf("RevokeFamily at %v succeeded", bad)
			}
			if err := f.a.RevokeSubject(ctx, "usr", bad); err == nil {
				t.Errorf("RevokeSubject at %v succeeded", bad)
			}
			if got, err := f.a.Get(ctx, good.Hash); err != nil || !sameRecord(got, good) {
				t.Errorf("refused calls changed the record: %+v, %v", got, err)
			}
		}

		// Purge thresholds out of the range of the columns work.
		if _, err := f.a.Purge(ctx, time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.Get(ctx, r.Hash); err != nil {
			t.Errorf("Purge before year 1 deleted a record of year 1: %v", err)
		}
		if _, err := f.a.Purge(ctx, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.Get(ctx, r.Hash); !errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("Purge(1960) kept a record of year 1: %v", err)
		}
		if _, err := f.a.Purge(ctx, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := f.raw.QueryRow(`SELECT COUNT(*) FROM ` + f.table).Scan(&n); err != nil || n != 0 {
			t.Errorf("after Purge(3000) the table has %d rows (%v)", n, err)
		}
	})
}

// TestForeignRows: rows the store did not write (by hand, or by a newer
// version) give errors or odd values, never panics.
func TestForeignRows(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		insert := `INSERT INTO ` + f.table + ` (hash, family, subject, client_id, scope, family_created_ns, issued_ns,
spent_ns, access_issuer, access_id, access_expires_ns) VALUES (?, ?, 'usr', 'c', 's', ?, ?, ?, 'iss', 'jti', ?)`

		// A hash of the wrong length is a row no Get finds, but the
		// statements over families still handle it.
		short := refresh.HashToken("short")
		f.exec(t, insert, short[:31], "fam_short", 1, 1, 0, 1)
		if _, err := f.a.Get(ctx, short); !errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("Get of a hash stored truncated = %v, want ErrNotFound", err)
		}
		if got, err := f.a.RevokeFamily(ctx, "fam_short", storetest.Base); err != nil || len(got) != 1 {
			t.Errorf("RevokeFamily of a family with a short hash = %+v, %v", got, err)
		}

		// Extreme and negative nanoseconds decode.
		odd := refresh.HashToken("odd")
		f.exec(t, insert, odd[:], "fam_odd", int64(-1<<63), int64(1<<63-1), int64(-5), int64(1<<63-1))
		rec, err := f.a.Get(ctx, odd)
		if err != nil || rec.SpentAt.IsZero() || rec.FamilyCreated.Year() != 1677 {
			t.Errorf("Get of a row with extreme times = %+v, %v", rec, err)
		}
		if err := f.a.Rotate(ctx, odd, storetest.Base, storetest.NewRecord("usr", storetest.Base)); !errors.Is(err, refresh.ErrSpent) {
			t.Errorf("Rotate of a row spent at a negative time = %v, want ErrSpent", err)
		}
		if _, err := f.a.Purge(ctx, storetest.Base, storetest.Base); err != nil {
			t.Errorf("Purge: %v", err)
		}
		if _, err := f.a.Get(ctx, odd); !errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("Purge kept a family created in 1677: %v", err)
		}

		if be.Dialect != sqlstore.SQLite {
			return
		}
		// SQLite columns hold any type: text where a number belongs is
		// an error.
		bad := refresh.HashToken("bad")
		f.exec(t, insert, bad[:], "fam_bad", 1, "soon", 0, "later")
		if _, err := f.a.Get(ctx, bad); err == nil || errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("Get of a row with text times = %v, want an error", err)
		}
		if _, err := f.a.RevokeFamily(ctx, "fam_bad", storetest.Base); err == nil {
			t.Error("RevokeFamily of a row with a text expiry succeeded")
		}
		// ... and revoked nothing: the transaction rolled back.
		var revoked int64
		if err := f.raw.QueryRow(`SELECT revoked_ns FROM ` + f.table + ` WHERE family = 'fam_bad'`).Scan(&revoked); err != nil || revoked != 0 {
			t.Errorf("a failed RevokeFamily left revoked_ns = %d (%v)", revoked, err)
		}
	})
}

// TestText: the store writes only strings PostgreSQL's text holds (UTF-8
// without NUL), on SQLite as well; revoking by another string finds
// nothing, as in a MemoryStore.
func TestText(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		for _, s := range []string{"a\x00b", "\xff"} {
			r := storetest.NewRecord(s, storetest.Base)
			if err := f.a.Create(ctx, r); err == nil {
				t.Errorf("Create with subject %q succeeded", s)
			}
			if _, err := f.a.Get(ctx, r.Hash); !errors.Is(err, refresh.ErrNotFound) {
				t.Errorf("a refused Create stored its record: %v", err)
			}
			if got, err := f.a.RevokeFamily(ctx, s, storetest.Base); err != nil || len(got) != 0 {
				t.Errorf("RevokeFamily(%q) = %+v, %v; want nothing", s, got, err)
			}
			if err := f.a.RevokeSubject(ctx, s, storetest.Base); err != nil {
				t.Errorf("RevokeSubject(%q): %v", s, err)
			}
			good := storetest.NewRecord("usr", storetest.Base)
			if err := f.a.Create(ctx, good); err != nil {
				t.Fatal(err)
			}
			next := storetest.Successor(good, storetest.Base)
			next.Family = s
			if err := f.a.Rotate(ctx, good.Hash, storetest.Base, next); err == nil {
				t.Errorf("Rotate to family %q succeeded", s)
			}
		}
	})
}

// TestTextOfEarlierReleases: a SQLite table may hold strings that are
// not UTF-8 without NUL, written by a release that did not refuse them;
// revoking by them still reaches those rows.
func TestTextOfEarlierReleases(t *testing.T) {
	f := pair(t, schematest.SQLite)
	ctx := context.Background()
	r := storetest.NewRecord("usr", storetest.Base)
	if err := f.a.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	f.exec(t, `UPDATE `+f.table+` SET subject = ? WHERE hash = ?`, "a\x00b", r.Hash[:])
	if err := f.a.RevokeSubject(ctx, "a\x00b", storetest.Base); err != nil {
		t.Fatal(err)
	}
	if got, err := f.b.Get(ctx, r.Hash); err != nil || got.RevokedAt.IsZero() || got.Grant.Subject != "a\x00b" {
		t.Errorf("after RevokeSubject: %+v, %v; want the record revoked", got, err)
	}
	f.exec(t, `UPDATE `+f.table+` SET family = ? WHERE hash = ?`, "\xff", r.Hash[:])
	if got, err := f.a.RevokeFamily(ctx, "\xff", storetest.Base); err != nil || len(got) != 1 {
		t.Errorf("RevokeFamily of a family stored by an earlier release = %+v, %v; want its access token", got, err)
	}
}

func TestClosedDatabase(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		open, table := be.Fresh(t, "refresh_test")
		db := open(t)
		s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
		db.Close()

		ctx := context.Background()
		r := storetest.NewRecord("usr", storetest.Base)
		if err := s.Create(ctx, r); err == nil {
			t.Error("Create on a closed database succeeded")
		}
		if _, err := s.Get(ctx, r.Hash); err == nil || errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("Get on a closed database = %v, want an error other than ErrNotFound", err)
		}
		if err := s.Rotate(ctx, r.Hash, storetest.Base, storetest.Successor(r, storetest.Base)); err == nil {
			t.Error("Rotate on a closed database succeeded")
		}
		if _, err := s.RevokeFamily(ctx, r.Family, storetest.Base); err == nil {
			t.Error("RevokeFamily on a closed database succeeded")
		}
		if err := s.RevokeSubject(ctx, "usr", storetest.Base); err == nil {
			t.Error("RevokeSubject on a closed database succeeded")
		}
		if _, err := s.Purge(ctx, storetest.Base, storetest.Base); err == nil {
			t.Error("Purge on a closed database succeeded")
		}
	})
}

func TestCanceledContext(t *testing.T) {
	f := pair(t, schematest.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	r := storetest.NewRecord("usr", storetest.Base)
	if err := f.a.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := f.a.Rotate(ctx, r.Hash, storetest.Base, storetest.Successor(r, storetest.Base)); !errors.Is(err, context.Canceled) {
		t.Errorf("Rotate with a canceled context = %v", err)
	}
	if _, err := f.a.RevokeFamily(ctx, r.Family, storetest.Base); !errors.Is(err, context.Canceled) {
		t.Errorf("RevokeFamily with a canceled context = %v", err)
	}
	if got, err := f.a.Get(context.Background(), r.Hash); err != nil || !sameRecord(got, r) {
		t.Errorf("calls with a canceled context changed the record: %+v, %v", got, err)
	}
}

// TestIndexes: both indexes exist, under distinct names even for a table
// name of 63 characters.
func TestIndexes(t *testing.T) {
	f := pair(t, schematest.SQLite)
	long := "t_" + strings.Repeat("y", 61)
	testdb.DropTableAtEnd(t, f.raw, long)
	schematest.New(t, sqlstore.New, f.raw, sqlstore.Config{Dialect: sqlstore.SQLite, Table: long})
	for _, table := range []string{strings.Trim(f.table, `"`), long} {
		names := schematest.SQLite.Strings(t, f.raw, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
		if len(names) != 2 || names[0] == names[1] {
			t.Errorf("indexes of %s: %v, want two", table, names)
		}
		for _, n := range names {
			if len(n) > 63 {
				t.Errorf("index name %q is longer than 63 characters", n)
			}
		}
	}
}

// TestMigrationFromVersion1: a table of the first release (no dpop_jkt,
// no resource) is migrated in place: its rows stay, unbound, for no
// resource in particular.
func TestMigrationFromVersion1(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		open, table := be.Fresh(t, "refresh_v1")
		db := open(t)
		blob := "BLOB"
		if be.Dialect == sqlstore.Postgres {
			blob = "BYTEA"
		}
		v1 := `CREATE TABLE "` + table + `" (hash ` + blob + ` NOT NULL PRIMARY KEY, family TEXT NOT NULL, subject TEXT NOT NULL,
client_id TEXT NOT NULL, scope TEXT NOT NULL, family_created_ns BIGINT NOT NULL, issued_ns BIGINT NOT NULL,
spent_ns BIGINT NOT NULL DEFAULT 0, revoked_ns BIGINT NOT NULL DEFAULT 0, access_issuer TEXT NOT NULL,
access_id TEXT NOT NULL, access_expires_ns BIGINT NOT NULL)`
		if err := sqlschema.Migrate(context.Background(), db, be.Dialect, "token/refresh/sqlstore:"+table, []string{v1}); err != nil {
			t.Fatal(err)
		}
		rec := storetest.NewRecord("usr_old", storetest.Base)
		be.Exec(t, db, `INSERT INTO "`+table+`" VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)`,
			rec.Hash[:], rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope,
			rec.FamilyCreated.UnixNano(), rec.IssuedAt.UnixNano(), rec.Access.Issuer, rec.Access.ID, rec.Access.ExpiresAt.UnixNano())
		s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
		got, err := s.Get(context.Background(), rec.Hash)
		if err != nil || got.Grant.Subject != "usr_old" || got.Grant.JKT != "" || got.Grant.Resource != "" ||
			got.Grant.UserAgent != "" || len(got.Seed) != 0 {
			t.Fatalf("a version 1 row after the migration: %+v, %v", got, err)
		}
	})
}

// TestMigrationFromVersion3: a table of the release before seeds is
// migrated in place: its rows read with no seed and no User-Agent, are
// listed, and rotate (to a random successor, with a seed) without a
// grace period; a row written by that release after the migration (an
// instance not upgraded yet) reads the same.
func TestMigrationFromVersion3(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		ctx := context.Background()
		open, table := be.Fresh(t, "refresh_v3")
		db := open(t)
		blob := "BLOB"
		if be.Dialect == sqlstore.Postgres {
			blob = "BYTEA"
		}
		q := `"` + table + `"`
		v1 := `CREATE TABLE ` + q + ` (hash ` + blob + ` NOT NULL PRIMARY KEY, family TEXT NOT NULL, subject TEXT NOT NULL,
client_id TEXT NOT NULL, scope TEXT NOT NULL, family_created_ns BIGINT NOT NULL, issued_ns BIGINT NOT NULL,
spent_ns BIGINT NOT NULL DEFAULT 0, revoked_ns BIGINT NOT NULL DEFAULT 0, access_issuer TEXT NOT NULL,
access_id TEXT NOT NULL, access_expires_ns BIGINT NOT NULL)`
		if err := sqlschema.Migrate(ctx, db, be.Dialect, "token/refresh/sqlstore:"+table, []string{v1},
			[]string{`ALTER TABLE ` + q + ` ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT ''`},
			[]string{`ALTER TABLE ` + q + ` ADD COLUMN resource TEXT NOT NULL DEFAULT ''`}); err != nil {
			t.Fatal(err)
		}
		// What the release before seeds writes: every column it knows.
		insertV3 := func(rec refresh.Record) {
			be.Exec(t, db, `INSERT INTO `+q+` (hash, family, subject, client_id, scope, family_created_ns, issued_ns, spent_ns,
revoked_ns, access_issuer, access_id, access_expires_ns, dpop_jkt, resource) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?)`,
				rec.Hash[:], rec.Family, rec.Grant.Subject, rec.Grant.ClientID, rec.Grant.Scope,
				rec.FamilyCreated.UnixNano(), rec.IssuedAt.UnixNano(), rec.Access.Issuer, rec.Access.ID,
				rec.Access.ExpiresAt.UnixNano(), rec.Grant.JKT, rec.Grant.Resource)
		}
		raw := validToken()
		old := storetest.NewRecord("usr_old", storetest.Base)
		old.Hash = refresh.HashToken(raw)
		insertV3(old)

		s := schematest.New(t, sqlstore.New, db, sqlstore.Config{Dialect: be.Dialect, Table: table})
		if v := be.Strings(t, db, `SELECT CAST(version AS TEXT) FROM `+sqlschema.VersionTable+` WHERE name = ?`,
			"token/refresh/sqlstore:"+table); len(v) != 1 || v[0] != "4" {
			t.Errorf("schema version %v, want 4", v)
		}
		late := storetest.NewRecord("usr_old", storetest.Base.Add(time.Minute))
		insertV3(late)
		for _, r := range []refresh.Record{old, late} {
			want := r
			want.Seed, want.Grant.UserAgent = nil, ""
			if got, err := s.Get(ctx, r.Hash); err != nil || !sameRecord(got, want) || len(got.Seed) != 0 {
				t.Errorf("a version 3 row after the migration: %+v, %v\nwant %+v", got, err, want)
			}
		}
		fams, err := s.Families(ctx, "usr_old", 10)
		if err != nil || len(fams) != 2 || fams[0].ID != late.Family || fams[1].Grant.UserAgent != "" {
			t.Errorf("Families of version 3 rows = %+v, %v", fams, err)
		}

		m, err := refresh.New(refresh.Config{Store: s, Now: func() time.Time { return storetest.Base.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		next, _, err := m.Rotate(ctx, raw, reissue)
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := s.Get(ctx, refresh.HashToken(next)); err != nil || len(rec.Seed) != 32 {
			t.Errorf("the successor of a version 3 row: %+v, %v; want a seed", rec, err)
		}
		if _, _, err := m.Rotate(ctx, raw, reissue); !errors.Is(err, refresh.ErrReused) {
			t.Errorf("a version 3 row presented again at once = %v, want ErrReused (no grace without a seed)", err)
		}
	})
}

// validToken returns a random token that refresh.Check accepts.
func validToken() string {
	var b [32]byte
	rand.Read(b[:])
	return refresh.Prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// reissue is a refresh.Mint: a new access token, or the one to reissue.
func reissue(_ context.Context, m refresh.Minting) (refresh.AccessToken, error) {
	if m.Reissue.ID != "" {
		return m.Reissue, nil
	}
	return refresh.AccessToken{Issuer: "iss", ID: rand.Text(), ExpiresAt: storetest.Base.Add(time.Hour)}, nil
}

// TestGraceAcrossInstances: two Managers on one database, as two
// instances whose clocks differ by 2 seconds, rotating one token at once
// (two tabs of a browser behind a load balancer): every rotation
// succeeds, with one successor, round after round.
func TestGraceAcrossInstances(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		var managers [2]*refresh.Manager
		for i, s := range []refresh.Store{f.a, f.b} {
			skew := time.Duration(i) * 2 * time.Second
			m, err := refresh.New(refresh.Config{Store: s, Now: func() time.Time { return storetest.Base.Add(skew) }})
			if err != nil {
				t.Fatal(err)
			}
			managers[i] = m
		}
		raw, err := managers[0].Issue(ctx, refresh.Grant{Subject: "usr_tabs", ClientID: "app"}, refresh.AccessToken{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		for round := range 5 {
			got := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					next, _, err := managers[i%2].Rotate(ctx, raw, reissue)
					if err != nil {
						t.Errorf("round %d: Rotate on instance %d: %v", round, i%2, err)
					}
					got[i] = next
				})
			}
			wg.Wait()
			for _, next := range got {
				if next != got[0] || next == "" {
					t.Fatalf("round %d: concurrent rotations returned %q, want one successor", round, got)
				}
			}
			raw = got[0]
		}
		fams, err := managers[1].Families(ctx, "usr_tabs")
		if err != nil || len(fams) != 1 {
			t.Errorf("Families = %+v, %v; want the one family", fams, err)
		}
	})
}

// TestSeedsForgotten: a rotation forgets the seeds of the family's
// tokens spent before the one it spends (their grace is over: their
// successors are spent), so that a copy of the table and one of those
// old tokens yield no later token; the token just spent keeps its seed
// for its grace period.
func TestSeedsForgotten(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		m, err := refresh.New(refresh.Config{Store: f.a, Now: func() time.Time { return storetest.Base }})
		if err != nil {
			t.Fatal(err)
		}
		raws := make([]string, 4)
		if raws[0], err = m.Issue(ctx, refresh.Grant{Subject: "usr_seed", ClientID: "app"}, refresh.AccessToken{}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(raws); i++ {
			if raws[i], _, err = m.Rotate(ctx, raws[i-1], reissue); err != nil {
				t.Fatal(err)
			}
		}
		for i, raw := range raws {
			rec, err := f.b.Get(ctx, refresh.HashToken(raw))
			if err != nil {
				t.Fatal(err)
			}
			// 0 and 1 spent before the last rotation; 2 just spent; 3 live.
			if keeps := i >= 2; (len(rec.Seed) > 0) != keeps {
				t.Errorf("token %d keeps a seed: %v, want %v", i, len(rec.Seed) > 0, keeps)
			}
		}
		// The just-spent token still yields its successor in its grace.
		if next, _, err := m.Rotate(ctx, raws[2], reissue); err != nil || next != raws[3] {
			t.Fatalf("grace: %q, %v", next, err)
		}
	})
}

// TestLockKeys: on PostgreSQL, the revocations and Rotate take the
// advisory locks on "s:<table>:<subject>" and "f:<table>:<family>", as
// every release has, so that instances of different releases exclude
// each other.
func TestLockKeys(t *testing.T) {
	schematest.Run(t, func(t *testing.T, be schematest.Backend) {
		f := pair(t, be)
		ctx := context.Background()
		r := storetest.NewRecord("usr_lock", storetest.Base)
		if err := f.a.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		subject, family := "s:"+f.name+":usr_lock", "f:"+f.name+":"+r.Family
		for _, key := range []string{subject, family} {
			next := storetest.Successor(r, storetest.Base.Add(time.Minute))
			schematest.Locks(t, be, f.raw, key, func() error { return f.b.Rotate(ctx, r.Hash, next.IssuedAt, next) })
			r = next
		}
		schematest.Locks(t, be, f.raw, family, func() error {
			_, err := f.a.RevokeFamily(ctx, r.Family, storetest.Base.Add(time.Hour))
			return err
		})
		schematest.Locks(t, be, f.raw, subject, func() error {
			return f.b.RevokeSubject(ctx, "usr_lock", storetest.Base.Add(time.Hour))
		})
	})
}
