# meshready: renew the join token on local-cp-1
set -eu
# The config holds both secrets: kubeadm reads them from it, never from its
# command line. It was uploaded 0600 for this run alone.
trap "rm -f '/etc/meshready/kubeadm-0123456789abcdef.yaml'" EXIT
export KUBECONFIG=/etc/kubernetes/admin.conf
# The token exists already when init or an earlier run made it: that is fine.
if ! out=$(kubeadm token create --config '/etc/meshready/kubeadm-0123456789abcdef.yaml' 2>&1 >/dev/null); then
  case "$out" in
    *"already exists"*) ;;
    *) echo "kubeadm token create: $out" >&2; exit 1 ;;
  esac
fi
