package testenv_test

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionless/sessionless/internal/testenv"
)

// TestServices checks that the servers scripts/test.sh started answer on
// loopback, so a broken service set-up fails here and not in a backend test.
func TestServices(t *testing.T) {
	t.Run("PostgreSQL", func(t *testing.T) {
		u, err := url.Parse(testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("Redis", func(t *testing.T) {
		u, err := url.Parse(testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("PING\r\n"))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "+PONG" {
			t.Fatalf("PING: %q, %v", line, err)
		}
	})
}
