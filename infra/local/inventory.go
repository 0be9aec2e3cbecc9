package local

import (
	"fmt"

	"github.com/meshready/meshready/infra"
)

// Machine is one local machine as `meshready gc --orphans` sees it.
type Machine struct {
	ID, Name, Stack string
	// Owner is the meshready-backend label ("" when made before it).
	Owner string
}

// Inventory lists every machine in the cache's registry (all stacks of
// every checkout on this host share it).
func (b *Backend) Inventory() ([]Machine, error) {
	recs, err := readRecords(b.machinesDir())
	if err != nil {
		return nil, fmt.Errorf("local machines: %w", err)
	}
	var out []Machine
	for _, r := range recs {
		out = append(out, Machine{ID: r.ID, Name: r.Name, Stack: r.Stack, Owner: r.Labels[infra.LabelBackend]})
	}
	return out, nil
}
