package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestQueueBound: with every slot taken and the queue full, a caller gets
// ErrBusy at once; a caller in the queue gets it after MaxWait.
func TestQueueBound(t *testing.T) {
	h, err := New(Config{Params: Params{Memory: 64, Time: 1, Threads: 1}, MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.sem <- struct{}{} // the one slot, taken
	queued := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "x"); queued <- err }()
	for h.waiting.Load() != 1 {
		time.Sleep(time.Millisecond) // until the first caller is in the queue
	}
	start := time.Now()
	if _, err := h.Verify(context.Background(), h.dummy, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a caller past the queue: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("ErrBusy took %v: it must be at once", d)
	}
	<-h.sem // the slot is free: the queued caller gets it
	if err := <-queued; err != nil {
		t.Fatalf("the queued caller: %v", err)
	}

	h2, _ := New(Config{Params: Params{Memory: 64, Time: 1, Threads: 1}, MaxConcurrent: 1, MaxWait: 20 * time.Millisecond})
	h2.sem <- struct{}{}
	if _, err := h2.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a wait past MaxWait: %v, want ErrBusy", err)
	}
	h3, _ := New(Config{Params: Params{Memory: 64, Time: 1, Threads: 1}, MaxConcurrent: 1, MaxQueue: -1})
	h3.sem <- struct{}{}
	if _, err := h3.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("no queue: %v, want ErrBusy", err)
	}
}
