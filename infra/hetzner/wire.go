package hetzner

// Wire types: the JSON of the Hetzner Cloud API, kept apart from infra's
// domain types so that a change on either side is a change in one converter
// (toServer), not in every caller. Only the fields meshready reads are here.

type wireServer struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	PublicNet  wirePublicNet     `json:"public_net"`
	PrivateNet []wirePrivateNet  `json:"private_net"`
	Labels     map[string]string `json:"labels"`
}

type wirePublicNet struct {
	// IPv4 is null for a server created without a public IPv4.
	IPv4 *wireIP `json:"ipv4"`
}

type wireIP struct {
	IP string `json:"ip"`
}

type wirePrivateNet struct {
	Network int64  `json:"network"`
	IP      string `json:"ip"`
}

type wireAction struct {
	ID       int64            `json:"id"`
	Command  string           `json:"command"`
	Status   string           `json:"status"` // running | success | error
	Progress int              `json:"progress"`
	Error    *wireActionError `json:"error"`
}

type wireActionError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type wireSSHKey struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
}

type wireMeta struct {
	Pagination *wirePagination `json:"pagination"`
}

// wirePagination: next_page is null on the last page (decoded as 0).
type wirePagination struct {
	Page     int `json:"page"`
	PerPage  int `json:"per_page"`
	NextPage int `json:"next_page"`
	LastPage int `json:"last_page"`
}

type wireErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type createServerRequest struct {
	Name       string            `json:"name"`
	ServerType string            `json:"server_type"`
	Image      string            `json:"image"`
	Location   string            `json:"location,omitempty"`
	SSHKeys    []int64           `json:"ssh_keys"`
	Labels     map[string]string `json:"labels"`
	UserData   string            `json:"user_data"`
	// Networks, Firewalls and PlacementGroup attach the stack's own.
	Networks       []int64           `json:"networks,omitempty"`
	Firewalls      []wireFirewallRef `json:"firewalls,omitempty"`
	PlacementGroup int64             `json:"placement_group,omitempty"`
}

type createServerResponse struct {
	Server      wireServer   `json:"server"`
	Action      wireAction   `json:"action"`
	NextActions []wireAction `json:"next_actions"`
}

type serverResponse struct {
	Server wireServer `json:"server"`
}

type serverListResponse struct {
	Servers []wireServer `json:"servers"`
	Meta    wireMeta     `json:"meta"`
}

type actionResponse struct {
	Action wireAction `json:"action"`
}

type actionListResponse struct {
	Actions []wireAction `json:"actions"`
	Meta    wireMeta     `json:"meta"`
}

type createSSHKeyRequest struct {
	Name      string            `json:"name"`
	PublicKey string            `json:"public_key"`
	Labels    map[string]string `json:"labels"`
}

type sshKeyResponse struct {
	SSHKey wireSSHKey `json:"ssh_key"`
}

type sshKeyListResponse struct {
	SSHKeys []wireSSHKey `json:"ssh_keys"`
	Meta    wireMeta     `json:"meta"`
}

type wireFirewallRef struct {
	Firewall int64 `json:"firewall"`
}

// wireOwned is what meshready reads of a network, firewall or placement group.
type wireOwned struct {
	ID     int64              `json:"id"`
	Name   string             `json:"name"`
	Labels map[string]string  `json:"labels"`
	Rules  []wireFirewallRule `json:"rules,omitempty"`
}

type wireFirewallRule struct {
	Description string   `json:"description,omitempty"`
	Direction   string   `json:"direction"`
	Protocol    string   `json:"protocol"`
	Port        string   `json:"port,omitempty"`
	SourceIPs   []string `json:"source_ips"`
}

type wireSubnet struct {
	Type        string `json:"type"`
	IPRange     string `json:"ip_range"`
	NetworkZone string `json:"network_zone"`
}

type createNetworkRequest struct {
	Name    string            `json:"name"`
	IPRange string            `json:"ip_range"`
	Subnets []wireSubnet      `json:"subnets"`
	Labels  map[string]string `json:"labels"`
}

type createFirewallRequest struct {
	Name   string             `json:"name"`
	Labels map[string]string  `json:"labels"`
	Rules  []wireFirewallRule `json:"rules"`
}

type createPlacementGroupRequest struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels"`
}
