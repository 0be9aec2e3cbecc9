# meshready: import 2 image(s) into containerd on local-w-1 (air-gapped; none is pulled).
set -eu
have=$(ctr -n k8s.io images ls -q)
echo "$have" | grep -qxF 'localhost/meshready/pilot:1.31-alpha.eed52ebb66ad' || ctr -n k8s.io images import --all-platforms '/opt/meshready/bundle/mesh-1.31-alpha.eed52ebb66ad/images/pilot_1.31-alpha.eed52ebb66ad.tar' >/dev/null
[ -e '/var/lib/meshready/images/5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' ] || { ctr -n k8s.io images import --all-platforms '/opt/meshready/bundle/e2e-v1.34.4/images/agnhost_2.56.tar' >/dev/null && mkdir -p /var/lib/meshready/images && touch '/var/lib/meshready/images/5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef'; }

