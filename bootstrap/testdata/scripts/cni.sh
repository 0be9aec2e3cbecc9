# meshready pod network on local-cp-1: a bridge for this node's pods (10.244.0.0/24),
# routes to every other node's pods through that node.
set -eu
if ip -4 -o route get '10.213.0.3' | grep -q ' via '; then
  echo "host routes: the node at "'10.213.0.3'" is not on this node's link (it is reached through a gateway), so it cannot carry its pods' traffic: host routes need every node on one L2 segment; set meshready:kubernetes.podNetwork to flannel" >&2
  exit 3
fi
if ip -4 -o route get '10.213.0.4' | grep -q ' via '; then
  echo "host routes: the node at "'10.213.0.4'" is not on this node's link (it is reached through a gateway), so it cannot carry its pods' traffic: host routes need every node on one L2 segment; set meshready:kubernetes.podNetwork to flannel" >&2
  exit 3
fi
mkdir -p /etc/cni/net.d
cat > /etc/cni/net.d/10-meshready.conflist.new <<'JSON'
{
  "cniVersion": "0.4.0",
  "name": "meshready",
  "plugins": [
    {
      "bridge": "cni0",
      "hairpinMode": true,
      "ipMasq": true,
      "ipam": {
        "ranges": [
          [
            {
              "subnet": "10.244.0.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ],
        "type": "host-local"
      },
      "isGateway": true,
      "type": "bridge"
    },
    {
      "capabilities": {
        "portMappings": true
      },
      "type": "portmap"
    }
  ]
}
JSON
if cmp -s /etc/cni/net.d/10-meshready.conflist.new /etc/cni/net.d/10-meshready.conflist; then
  rm /etc/cni/net.d/10-meshready.conflist.new
else
  mv /etc/cni/net.d/10-meshready.conflist.new /etc/cni/net.d/10-meshready.conflist
fi
if [ -f /etc/systemd/system/meshready-flanneld.service ]; then
  echo "host routes replace flannel: flanneld stops" >&2
  systemctl disable --now meshready-flanneld >/dev/null 2>&1 || true
  rm -f /etc/systemd/system/meshready-flanneld.service
  systemctl daemon-reload
  ip link del flannel.1 2>/dev/null || true
fi
ip route replace '10.244.1.0/24' via '10.213.0.3'
ip route replace '10.244.2.0/24' via '10.213.0.4'

