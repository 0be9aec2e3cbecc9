package hetzner

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
)

// The fake's networks, firewalls and placement groups (Hetzner's documented
// objects): unique by name per kind, found by label selectors, checked
// when a server names them, a firewall refused deletion while a server has
// it (422 resource_in_use, as documented).

type fakeObject struct {
	ID      int64              `json:"id"`
	Name    string             `json:"name"`
	Labels  map[string]string  `json:"labels"`
	IPRange string             `json:"ip_range,omitempty"`
	Subnets []wireSubnet       `json:"subnets,omitempty"`
	Rules   []wireFirewallRule `json:"rules,omitempty"`
	Type    string             `json:"type,omitempty"`
}

// fakeKinds are the object kinds, by their path and JSON key.
var fakeKinds = map[string]string{"networks": "network", "firewalls": "firewall", "placement_groups": "placement_group"}

func (f *fakeAPI) routeStack() {
	for path := range fakeKinds {
		f.mux.HandleFunc("GET /v1/"+path, f.listObjects(path))
		f.mux.HandleFunc("POST /v1/"+path, f.createObject(path))
		f.mux.HandleFunc("DELETE /v1/"+path+"/{id}", f.deleteObject(path))
	}
	f.mux.HandleFunc("POST /v1/firewalls/{id}/actions/set_rules", f.setRules)
}

// objects are the fake's objects of a kind (made on first use).
func (f *fakeAPI) objects(path string) map[int64]*fakeObject {
	if f.objs == nil {
		f.objs = map[string]map[int64]*fakeObject{}
	}
	if f.objs[path] == nil {
		f.objs[path] = map[int64]*fakeObject{}
	}
	return f.objs[path]
}

// addObject puts an object in place as if someone had made it earlier.
func (f *fakeAPI) addObject(path, name string, labels map[string]string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := &fakeObject{ID: f.id(), Name: name, Labels: labels}
	f.objects(path)[o.ID] = o
	return o.ID
}

func (f *fakeAPI) objectList(path string) []*fakeObject {
	f.mu.Lock()
	defer f.mu.Unlock()
	objs := f.objects(path)
	var out []*fakeObject
	for _, id := range slices.Sorted(maps.Keys(objs)) {
		out = append(out, objs[id])
	}
	return out
}

func (f *fakeAPI) listObjects(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var out []any
		objs := f.objects(path)
		for _, id := range slices.Sorted(maps.Keys(objs)) {
			if o := objs[id]; (r.FormValue("name") == "" || o.Name == r.FormValue("name")) && f.selects(r, o.Labels) {
				out = append(out, o)
			}
		}
		f.page(w, r, path, out)
	}
}

func (f *fakeAPI) createObject(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var o fakeObject
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.Name == "" {
			fakeError(w, 400, "invalid_input", fmt.Sprintf("a name is required (%v)", err))
			return
		}
		switch path {
		case "networks":
			if _, err := netip.ParsePrefix(o.IPRange); err != nil || len(o.Subnets) == 0 || o.Subnets[0].NetworkZone == "" {
				fakeError(w, 400, "invalid_input", "ip_range and a subnet with its network_zone are required")
				return
			}
		case "firewalls":
			for _, rule := range o.Rules {
				if rule.Direction != "in" && rule.Direction != "out" || len(rule.SourceIPs) == 0 && rule.Direction == "in" {
					fakeError(w, 400, "invalid_input", "a rule needs a direction and, inbound, source_ips")
					return
				}
				for _, ip := range rule.SourceIPs {
					if _, err := netip.ParsePrefix(ip); err != nil {
						fakeError(w, 400, "invalid_input", fmt.Sprintf("source_ips: %q", ip))
						return
					}
				}
			}
		case "placement_groups":
			if o.Type != "spread" {
				fakeError(w, 400, "invalid_input", "type must be spread")
				return
			}
		}
		for _, other := range f.objects(path) {
			if other.Name == o.Name {
				fakeError(w, 409, "uniqueness_error", "name is already used")
				return
			}
		}
		o.ID = f.id()
		f.objects(path)[o.ID] = &o
		body := map[string]any{fakeKinds[path]: &o}
		if path == "firewalls" {
			body["actions"] = []any{}
		}
		writeJSON(w, 201, body)
	}
}

func (f *fakeAPI) deleteObject(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := pathID(r)
		if f.objects(path)[id] == nil {
			fakeError(w, 404, "not_found", fmt.Sprintf("%s not found", fakeKinds[path]))
			return
		}
		for _, s := range f.servers {
			if path == "firewalls" && slices.Contains(s.Firewalls, id) {
				fakeError(w, 422, "resource_in_use", "Firewall must not be in use to be deleted")
				return
			}
			if path == "networks" && slices.Contains(s.Networks, id) {
				fakeError(w, 409, "conflict", "network has attached servers")
				return
			}
		}
		delete(f.objects(path), id)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeAPI) setRules(w http.ResponseWriter, r *http.Request) {
	o := f.objects("firewalls")[pathID(r)]
	if o == nil {
		fakeError(w, 404, "not_found", "firewall not found")
		return
	}
	var req struct {
		Rules []wireFirewallRule `json:"rules"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fakeError(w, 400, "json_error", err.Error())
		return
	}
	o.Rules = req.Rules
	f.page(w, r, "actions", []any{f.actionJSON(f.newAction("set_firewall_rules"))})
}

// checkAttachments refuses a server naming objects that do not exist.
func (f *fakeAPI) checkAttachments(networks, firewalls []int64, placement int64) string {
	for _, id := range networks {
		if f.objects("networks")[id] == nil {
			return fmt.Sprintf("network %d not found", id)
		}
	}
	for _, id := range firewalls {
		if f.objects("firewalls")[id] == nil {
			return fmt.Sprintf("firewall %d not found", id)
		}
	}
	if placement != 0 && f.objects("placement_groups")[placement] == nil {
		return fmt.Sprintf("placement group %d not found", placement)
	}
	return ""
}
