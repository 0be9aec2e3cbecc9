package hetzner

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fakeFault is one failure the fake answers with, in place of (or after)
// doing what was asked.
type fakeFault struct {
	kind   faultKind
	status int
	code   string
}

type faultKind int

const (
	faultStatus    faultKind = iota // answer status/code; do nothing
	faultAfter                      // do it, then answer status/code instead
	faultLost                       // do it, then close the connection with no answer
	faultSlow                       // answer nothing until the client gives up, then do it
	faultRateLimit                  // 429 rate_limit_exceeded with RateLimit-* and Retry-After
)

func fail(status int, code string) fakeFault      { return fakeFault{faultStatus, status, code} }
func failAfter(status int, code string) fakeFault { return fakeFault{faultAfter, status, code} }
func lost() fakeFault                             { return fakeFault{kind: faultLost} }
func slow() fakeFault                             { return fakeFault{kind: faultSlow} }
func rateLimited() fakeFault                      { return fakeFault{kind: faultRateLimit} }

// inject queues faults for a route ("POST /servers", "GET /servers/{id}"):
// the next requests to it meet them in order.
func (f *fakeAPI) inject(route string, faults ...fakeFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[route] = append(f.faults[route], faults...)
}

// ServeHTTP counts, checks the token, applies a queued fault, then serves.
func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := f.mux.Handler(r)
	route := strings.Replace(pattern, " /v1/", " /", 1)
	f.mu.Lock()
	f.counts[route]++
	var fault *fakeFault
	if q := f.faults[route]; len(q) > 0 {
		fault, f.faults[route] = &q[0], q[1:]
	}
	// The project's budget spent, Hetzner answers 429 until it refills
	// (3600 an hour); a test's budget never refills.
	f.spent++
	overBudget := f.budget > 0 && f.spent > f.budget
	f.mu.Unlock()
	if overBudget {
		w.Header().Set("RateLimit-Limit", strconv.Itoa(f.budget))
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("Retry-After", "3600")
		fakeError(w, 429, "rate_limit_exceeded", "rate limit exceeded")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		fakeError(w, 401, "unauthorized", "unable to authenticate")
		return
	}
	reset := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	w.Header().Set("RateLimit-Limit", "3600")
	w.Header().Set("RateLimit-Remaining", "3599")
	w.Header().Set("RateLimit-Reset", reset)
	if fault == nil {
		f.serve(w, r)
		return
	}
	switch fault.kind {
	case faultStatus:
		fakeError(w, fault.status, fault.code, "injected failure")
	case faultRateLimit:
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("Retry-After", "1")
		fakeError(w, 429, "rate_limit_exceeded", "rate limit exceeded")
	case faultSlow:
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		f.serve(httptest.NewRecorder(), r)
	case faultAfter:
		f.serve(httptest.NewRecorder(), r)
		fakeError(w, fault.status, fault.code, "injected failure after the fact")
	case faultLost:
		f.serve(httptest.NewRecorder(), r)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("fake: hijack: %v", err)
			return
		}
		conn.Close()
	}
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mux.ServeHTTP(w, r)
}

// count is the number of requests to route; total, to every route.
func (f *fakeAPI) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[route]
}

func (f *fakeAPI) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}

func (f *fakeAPI) countsCopy() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.counts)
}

// serverList is a copy of the servers, by id, with their status.
func (f *fakeAPI) serverList() []fakeServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeServer
	for _, id := range slices.Sorted(maps.Keys(f.servers)) {
		s := *f.servers[id]
		s.Labels = maps.Clone(s.Labels)
		s.status = f.status(&s)
		out = append(out, s)
	}
	return out
}

// selects applies a label_selector: comma-joined terms k=v, k==v, k!=v, k, !k.
func (f *fakeAPI) selects(r *http.Request, labels map[string]string) bool {
	sel := r.FormValue("label_selector")
	if f.ignoreSel || sel == "" {
		return true
	}
	for _, term := range strings.Split(sel, ",") {
		var ok bool
		if k, v, found := strings.Cut(term, "!="); found {
			ok = labels[k] != v
		} else if k, v, found := strings.Cut(strings.Replace(term, "==", "=", 1), "="); found {
			have, present := labels[k]
			ok = present && have == v
		} else if k, found := strings.CutPrefix(term, "!"); found {
			_, present := labels[k]
			ok = !present
		} else {
			_, ok = labels[term]
		}
		if !ok {
			return false
		}
	}
	return true
}

// page answers one page of items with meta.pagination, as the API does.
func (f *fakeAPI) page(w http.ResponseWriter, r *http.Request, key string, items []any) {
	per, err := strconv.Atoi(r.FormValue("per_page"))
	if err != nil {
		per = 25
	}
	per = min(max(per, 1), f.maxPerPage)
	page, err := strconv.Atoi(r.FormValue("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max((len(items)+per-1)/per, 1)
	lo := min((page-1)*per, len(items))
	hi := min(lo+per, len(items))
	var prev, next any
	if page > 1 {
		prev = page - 1
	}
	if page < last {
		next = page + 1
	}
	writeJSON(w, 200, map[string]any{key: append([]any{}, items[lo:hi]...), "meta": map[string]any{
		"pagination": map[string]any{"page": page, "per_page": per, "previous_page": prev,
			"next_page": next, "last_page": last, "total_entries": len(items)}}})
}

func pathID(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fakeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "details": map[string]any{}}})
}
