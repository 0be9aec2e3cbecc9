# meshready pod network on hel1-worker-1: a bridge for this node's pods (10.244.2.0/24),
# other nodes' pods through flannel.
set -eu
mkdir -p /etc/cni/net.d
cat > /etc/cni/net.d/10-meshready.conflist.new <<'JSON'
{
  "cniVersion": "0.4.0",
  "name": "meshready",
  "plugins": [
    {
      "bridge": "cni0",
      "hairpinMode": true,
      "ipMasq": false,
      "ipam": {
        "ranges": [
          [
            {
              "subnet": "10.244.2.0/24"
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
      "mtu": 1400,
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
