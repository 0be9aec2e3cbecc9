package benchmarks

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Facts are what FactsScript reports about a node.
type Facts struct {
	Device         DeviceFacts
	VirtVM         string // systemd-detect-virt --vm: kvm, none, ...
	VirtContainer  string // systemd-detect-virt --container: systemd-nspawn, docker, none, ...
	HypervisorFlag bool
	StealSinceBoot uint64 // aggregate steal ticks since boot
	DmesgSteal     string // the kernel's kvm-stealtime line, if it printed one
	CPUs           int
	Fio            string // fio's path, empty when not installed
}

// ParseFacts reads FactsScript's key=value output; unknown keys are ignored so
// that an older node script and a newer parser still agree.
func ParseFacts(dir string, out []byte) (Facts, error) {
	f := Facts{Device: DeviceFacts{Dir: dir}}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	if len(kv) == 0 {
		return f, fmt.Errorf("facts: no key=value lines in %q", string(out))
	}
	f.Device.Source, f.Device.FSType, f.Device.Device = kv["source"], kv["fstype"], kv["device"]
	f.Device.Model, f.Device.WriteCache = kv["model"], kv["write_cache"]
	switch kv["rotational"] {
	case "0":
		f.Device.Rotational = new(false)
	case "1":
		f.Device.Rotational = new(true)
	}
	f.VirtVM, f.VirtContainer = kv["virt_vm"], kv["virt_container"]
	f.HypervisorFlag = kv["hypervisor_flag"] == "yes"
	f.StealSinceBoot, _ = strconv.ParseUint(kv["steal_since_boot"], 10, 64)
	f.DmesgSteal = kv["dmesg_steal"]
	f.CPUs, _ = strconv.Atoi(kv["cpus"])
	f.Fio = kv["fio"]
	return f, nil
}

// StealMeasurability decides whether steal numbers mean anything on a node.
// Steal is only accounted when the hypervisor exposes steal time (KVM's
// steal-time feature); a guest without it reads 0 whatever the host does, so
// 0 must not be taken for "no steal" unless reporting is established.
// loadedSteal is the steal ticks counted during the test itself.
func StealMeasurability(f Facts, loadedSteal uint64) (measurable bool, virt, evidence string) {
	virt = f.VirtVM
	if virt == "" {
		virt = "unknown"
	}
	var where string
	if f.VirtContainer != "" && f.VirtContainer != "none" {
		where = fmt.Sprintf("; inside a %s container, /proc/stat is the host kernel's, so this is the VM underneath", f.VirtContainer)
		virt += " (" + f.VirtContainer + ")"
	}
	switch {
	case !f.HypervisorFlag && (f.VirtVM == "none" || f.VirtVM == ""):
		return false, virt, "no hypervisor: bare metal has nothing to steal CPU time; the claim is about VMs" + where
	case f.StealSinceBoot > 0 || loadedSteal > 0:
		return true, virt, fmt.Sprintf("the kernel has accounted steal (%d ticks since boot, %d during the test): the hypervisor reports steal time%s",
			f.StealSinceBoot, loadedSteal, where)
	case f.DmesgSteal != "":
		return true, virt, "the kernel enabled steal-time accounting (" + f.DmesgSteal + ")" + where
	}
	return false, virt, "a VM whose kernel has never accounted steal and did not log kvm-stealtime: the hypervisor may not expose steal time, so 0 proves nothing" + where
}
