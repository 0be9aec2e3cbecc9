# meshready: import 1 image(s) into containerd on local-w-1 (air-gapped; none is pulled).
set -eu
have=$(ctr -n k8s.io images ls -q)
echo "$have" | grep -qxF 'localhost/meshready/pilot:1.31-alpha.eed52ebb66ad' || ctr -n k8s.io images import --all-platforms '/opt/meshready/bundle/mesh-1.31-alpha.eed52ebb66ad/images/pilot_1.31-alpha.eed52ebb66ad.tar' >/dev/null

