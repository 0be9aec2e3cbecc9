# meshready flannel on hel1-worker-1: flanneld (VXLAN over 10.0.1.3) as a systemd service.
set -eu
if [ ! -x /usr/local/bin/flanneld ]; then
  echo "no /usr/local/bin/flanneld (it is uploaded before this step)" >&2
  exit 1
fi
mkdir -p /etc/meshready/flannel
changed=
put() { # put FILE: stdin becomes FILE when it differs
  cat > "$1.new"
  if cmp -s "$1.new" "$1"; then rm "$1.new"; else mv "$1.new" "$1"; changed=1; fi
}
# Its credentials: the service account token (uploaded 0600 beside as
# token.new) and a kubeconfig for the API server the kubelet talks to.
if [ -f /etc/meshready/flannel/token.new ]; then
  if cmp -s /etc/meshready/flannel/token.new /etc/meshready/flannel/token; then
    rm /etc/meshready/flannel/token.new
  else
    mv /etc/meshready/flannel/token.new /etc/meshready/flannel/token
    changed=1
  fi
fi
server=$(sed -n 's/^ *server: *//p' /etc/kubernetes/kubelet.conf | head -n 1)
put /etc/meshready/flannel/kubeconfig <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    certificate-authority: /etc/kubernetes/pki/ca.crt
    server: $server
users:
- name: meshready-flannel
  user:
    tokenFile: /etc/meshready/flannel/token
contexts:
- name: meshready-flannel
  context:
    cluster: kubernetes
    user: meshready-flannel
current-context: meshready-flannel
KUBECONFIG
put /etc/meshready/flannel/net-conf.json <<'JSON'
{
  "Backend": {
    "Type": "vxlan"
  },
  "EnableIPv4": true,
  "Network": "10.244.0.0/16"
}
JSON
put /etc/systemd/system/meshready-flanneld.service <<'UNIT'
[Unit]
Description=flannel, the pod network (meshready)
Wants=network-online.target
After=network-online.target kubelet.service

[Service]
Environment=NODE_NAME=hel1-worker-1
ExecStart=/usr/local/bin/flanneld --kube-subnet-mgr --kubeconfig-file=/etc/meshready/flannel/kubeconfig --iface=10.0.1.3 --net-config-path=/etc/meshready/flannel/net-conf.json --subnet-file=/run/flannel/subnet.env --ip-masq
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
# Routes a host-routes pod network left to other nodes' pods (each
# through a gateway) would shadow flannel's: they go. Only those: flannel's
# are on flannel.1, and no other route is touched.
for cidr in '10.244.0.0/24' '10.244.1.0/24'; do
  ip -4 route show exact "$cidr" | grep ' via ' | grep -v ' dev flannel\.1' | while read -r route; do
    # shellcheck disable=SC2086 # the route's words are ip route del's arguments
    ip route del $route || true
  done
done
systemctl daemon-reload
systemctl enable meshready-flanneld >/dev/null 2>&1
# Restarted when its config changed or the binary it runs is not the one
# installed (a new pin was uploaded; /proc/PID/exe is what runs).
pid=$(systemctl show -p MainPID --value meshready-flanneld)
if [ -n "$changed" ] || [ "$pid" = 0 ] || ! cmp -s /usr/local/bin/flanneld "/proc/$pid/exe"; then
  rm -f /run/flannel/subnet.env
  systemctl restart meshready-flanneld
fi
for _ in $(seq 60); do
  if [ -s /run/flannel/subnet.env ]; then
    cat /run/flannel/subnet.env
    exit 0
  fi
  sleep 1
done
echo "flanneld wrote no /run/flannel/subnet.env in 60 s; its last lines:" >&2
journalctl -u meshready-flanneld --no-pager -n 8 -o cat 2>/dev/null | cut -c1-300 >&2 || true
exit 1
