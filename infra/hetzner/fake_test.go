package hetzner

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeAPI behaves like the documented Hetzner Cloud API, on loopback: servers
// with ids and statuses that follow their actions, actions that go from
// running to success after a few looks, ssh keys unique by name and
// fingerprint, label selectors, pagination, JSON errors. It counts requests by
// method and route, and fails requests on demand (see fakeFault).
type fakeAPI struct {
	t     testing.TB
	srv   *httptest.Server
	mux   *http.ServeMux
	token string

	mu          sync.Mutex
	nextID      int64
	servers     map[int64]*fakeServer
	keys        map[int64]*fakeKey
	actions     map[int64]*fakeAction
	counts      map[string]int
	faults      map[string][]fakeFault
	actionPolls int  // looks until an action succeeds
	maxPerPage  int  // Hetzner's is 50; lower to make pages
	ignoreSel   bool // answer list requests as if label_selector were absent
	budget      int  // requests the project may make (0: no limit); 429 after
	spent       int
	objs        map[string]map[int64]*fakeObject // networks, firewalls, placement groups
}

type fakeServer struct {
	ID       int64
	Name     string
	Labels   map[string]string
	Type     string
	Image    string
	Location string
	UserData string
	SSHKeys  []int64
	// Networks, Firewalls and Placement are what the server was made with.
	Networks  []int64
	Firewalls []int64
	Placement int64
	actions   []int64
	off       bool
	status    string // filled in by serverList
}

type fakeKey struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint"`
	PublicKey   string            `json:"public_key"`
	Labels      map[string]string `json:"labels"`
}

type fakeAction struct {
	ID        int64
	Command   string
	pollsLeft int
}

const fakeToken = "hz-TEST-TOKEN-5f1e0c1d9b8a"

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{
		t: t, token: fakeToken, mux: http.NewServeMux(), nextID: 100,
		servers: map[int64]*fakeServer{}, keys: map[int64]*fakeKey{}, actions: map[int64]*fakeAction{},
		counts: map[string]int{}, faults: map[string][]fakeFault{}, actionPolls: 2, maxPerPage: 50,
	}
	f.mux.HandleFunc("GET /v1/servers", f.listServers)
	f.mux.HandleFunc("POST /v1/servers", f.createServer)
	f.mux.HandleFunc("GET /v1/servers/{id}", f.getServer)
	f.mux.HandleFunc("DELETE /v1/servers/{id}", f.deleteServer)
	f.mux.HandleFunc("GET /v1/servers/{id}/actions", f.serverActions)
	f.mux.HandleFunc("GET /v1/ssh_keys", f.listKeys)
	f.mux.HandleFunc("POST /v1/ssh_keys", f.createKey)
	f.mux.HandleFunc("DELETE /v1/ssh_keys/{id}", f.deleteKey)
	f.mux.HandleFunc("GET /v1/actions", f.listActions)
	f.mux.HandleFunc("GET /v1/actions/{id}", f.getAction)
	f.routeStack()
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) endpoint() string { return f.srv.URL + "/v1" }

func (f *fakeAPI) id() int64 { f.nextID++; return f.nextID }

// addServer puts a server in place as if someone had made it earlier.
func (f *fakeAPI) addServer(name string, labels map[string]string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeServer{ID: f.id(), Name: name, Labels: labels, Type: "cx22", Image: "debian-12"}
	f.servers[s.ID] = s
	return s.ID
}

func (f *fakeAPI) serverByName(name string) *fakeServer {
	for _, s := range f.servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// status follows the server's actions: initializing while create_server
// runs, starting while start_server runs, then running.
func (f *fakeAPI) status(s *fakeServer) string {
	if s.off {
		return "off"
	}
	for i, id := range s.actions {
		if a := f.actions[id]; a != nil && a.pollsLeft > 0 {
			return []string{"initializing", "starting"}[min(i, 1)]
		}
	}
	return "running"
}

// look advances an action one step, as time would on the real API.
func (f *fakeAPI) look(id int64) {
	if a := f.actions[id]; a != nil && a.pollsLeft > 0 {
		a.pollsLeft--
	}
}

func (f *fakeAPI) serverJSON(s *fakeServer) map[string]any {
	return map[string]any{
		"id": s.ID, "name": s.Name, "status": f.status(s), "labels": s.Labels,
		"created":     "2026-01-01T00:00:00+00:00",
		"server_type": map[string]any{"name": s.Type},
		"image":       map[string]any{"name": s.Image},
		"public_net": map[string]any{
			"ipv4": map[string]any{"id": s.ID, "ip": fmt.Sprintf("203.0.113.%d", s.ID%250), "blocked": false},
			"ipv6": nil, "floating_ips": []int64{}, "firewalls": []any{},
		},
		"private_net": f.privateNet(s),
	}
}

func (f *fakeAPI) actionJSON(a *fakeAction) map[string]any {
	status, progress, finished := "running", 50, any(nil)
	if a.pollsLeft == 0 {
		status, progress, finished = "success", 100, "2026-01-01T00:01:00+00:00"
	}
	return map[string]any{"id": a.ID, "command": a.Command, "status": status, "progress": progress,
		"started": "2026-01-01T00:00:00+00:00", "finished": finished, "error": nil, "resources": []any{}}
}

func (f *fakeAPI) newAction(cmd string) *fakeAction {
	a := &fakeAction{ID: f.id(), Command: cmd, pollsLeft: f.actionPolls}
	f.actions[a.ID] = a
	return a
}

func (f *fakeAPI) listServers(w http.ResponseWriter, r *http.Request) {
	var out []any
	for _, id := range slices.Sorted(maps.Keys(f.servers)) {
		s := f.servers[id]
		if (r.FormValue("name") == "" || s.Name == r.FormValue("name")) && f.selects(r, s.Labels) {
			out = append(out, f.serverJSON(s))
		}
	}
	f.page(w, r, "servers", out)
}

func (f *fakeAPI) createServer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name       string            `json:"name"`
		ServerType string            `json:"server_type"`
		Image      string            `json:"image"`
		Location   string            `json:"location"`
		SSHKeys    []int64           `json:"ssh_keys"`
		Labels     map[string]string `json:"labels"`
		UserData   string            `json:"user_data"`
		Networks   []int64           `json:"networks"`
		Firewalls  []struct {
			Firewall int64 `json:"firewall"`
		} `json:"firewalls"`
		PlacementGroup int64 `json:"placement_group"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fakeError(w, 400, "json_error", err.Error())
		return
	}
	if req.Name == "" || req.ServerType == "" || req.Image == "" {
		fakeError(w, 400, "invalid_input", "name, server_type and image are required")
		return
	}
	if f.serverByName(req.Name) != nil {
		fakeError(w, 409, "uniqueness_error", "server name is already used")
		return
	}
	for _, k := range req.SSHKeys {
		if f.keys[k] == nil {
			fakeError(w, 400, "invalid_input", fmt.Sprintf("ssh key %d not found", k))
			return
		}
	}
	var firewalls []int64
	for _, fw := range req.Firewalls {
		firewalls = append(firewalls, fw.Firewall)
	}
	if why := f.checkAttachments(req.Networks, firewalls, req.PlacementGroup); why != "" {
		fakeError(w, 400, "invalid_input", why)
		return
	}
	s := &fakeServer{ID: f.id(), Name: req.Name, Labels: req.Labels, Type: req.ServerType, Image: req.Image,
		Location: req.Location, UserData: req.UserData, SSHKeys: req.SSHKeys,
		Networks: req.Networks, Firewalls: firewalls, Placement: req.PlacementGroup}
	create, start := f.newAction("create_server"), f.newAction("start_server")
	s.actions = []int64{create.ID, start.ID}
	f.servers[s.ID] = s
	writeJSON(w, 201, map[string]any{"server": f.serverJSON(s), "action": f.actionJSON(create),
		"next_actions": []any{f.actionJSON(start)}, "root_password": nil})
}

func (f *fakeAPI) getServer(w http.ResponseWriter, r *http.Request) {
	s := f.servers[pathID(r)]
	if s == nil {
		fakeError(w, 404, "not_found", fmt.Sprintf("server with ID '%s' not found", r.PathValue("id")))
		return
	}
	for _, id := range s.actions {
		f.look(id)
	}
	writeJSON(w, 200, map[string]any{"server": f.serverJSON(s)})
}

func (f *fakeAPI) deleteServer(w http.ResponseWriter, r *http.Request) {
	s := f.servers[pathID(r)]
	if s == nil {
		fakeError(w, 404, "not_found", fmt.Sprintf("server with ID '%s' not found", r.PathValue("id")))
		return
	}
	delete(f.servers, s.ID)
	writeJSON(w, 200, map[string]any{"action": f.actionJSON(f.newAction("delete_server"))})
}

func (f *fakeAPI) serverActions(w http.ResponseWriter, r *http.Request) {
	s := f.servers[pathID(r)]
	if s == nil {
		fakeError(w, 404, "not_found", "server not found")
		return
	}
	var out []any
	for _, id := range s.actions {
		if a := f.actions[id]; a.pollsLeft > 0 || r.FormValue("status") != "running" {
			out = append(out, f.actionJSON(a))
		}
	}
	f.page(w, r, "actions", out)
}

func (f *fakeAPI) listKeys(w http.ResponseWriter, r *http.Request) {
	var out []any
	for _, id := range slices.Sorted(maps.Keys(f.keys)) {
		k := f.keys[id]
		if (r.FormValue("fingerprint") == "" || k.Fingerprint == r.FormValue("fingerprint")) && f.selects(r, k.Labels) {
			out = append(out, k)
		}
	}
	f.page(w, r, "ssh_keys", out)
}

func (f *fakeAPI) createKey(w http.ResponseWriter, r *http.Request) {
	var k fakeKey
	if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
		fakeError(w, 400, "json_error", err.Error())
		return
	}
	fields := strings.Fields(k.PublicKey)
	blob, err := base64.StdEncoding.DecodeString(fields[min(1, len(fields)-1)])
	if len(fields) < 2 || err != nil {
		fakeError(w, 400, "invalid_input", "invalid public key")
		return
	}
	sum := md5.Sum(blob)
	hexes := make([]string, 0, len(sum))
	for _, c := range sum {
		hexes = append(hexes, fmt.Sprintf("%02x", c))
	}
	k.Fingerprint = strings.Join(hexes, ":")
	for _, o := range f.keys {
		if o.Name == k.Name || o.Fingerprint == k.Fingerprint {
			fakeError(w, 409, "uniqueness_error", "SSH key with the same fingerprint or name already exists")
			return
		}
	}
	k.ID = f.id()
	f.keys[k.ID] = &k
	writeJSON(w, 201, map[string]any{"ssh_key": &k})
}

func (f *fakeAPI) deleteKey(w http.ResponseWriter, r *http.Request) {
	if f.keys[pathID(r)] == nil {
		fakeError(w, 404, "not_found", "ssh key not found")
		return
	}
	delete(f.keys, pathID(r))
	w.WriteHeader(http.StatusNoContent)
}

// listActions requires ids, as the API does since January 2025.
func (f *fakeAPI) listActions(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["id"]
	if len(ids) == 0 {
		fakeError(w, 400, "invalid_input", "id is required")
		return
	}
	var out []any
	for _, s := range ids {
		n, _ := strconv.ParseInt(s, 10, 64)
		if a := f.actions[n]; a != nil {
			f.look(n)
			out = append(out, f.actionJSON(a))
		}
	}
	f.page(w, r, "actions", out)
}

func (f *fakeAPI) getAction(w http.ResponseWriter, r *http.Request) {
	a := f.actions[pathID(r)]
	if a == nil {
		fakeError(w, 404, "not_found", "action not found")
		return
	}
	f.look(a.ID)
	writeJSON(w, 200, map[string]any{"action": f.actionJSON(a)})
}

// privateNet is the server's address in each network it joined (10.0.1.x,
// the stack's subnet).
func (f *fakeAPI) privateNet(s *fakeServer) []map[string]any {
	out := []map[string]any{}
	for _, n := range s.Networks {
		out = append(out, map[string]any{"network": n, "ip": fmt.Sprintf("10.0.1.%d", s.ID%250+2), "alias_ips": []string{}})
	}
	return out
}
