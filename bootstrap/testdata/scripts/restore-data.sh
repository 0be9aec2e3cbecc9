# meshready etcd restore on local-cp-2, 2/3: etcd's data made again from the
# snapshot with etcdutl (etcd's documented restore), as member local-cp-2 of
# a new cluster of the same members. Everything happens inside the data
# folder, which may be a mount of its own: the data it had is kept there,
# in .before-restore-20261203T093000Z. The revision jumps a billion ahead and is marked
# compacted (etcd's recovery guide, for Kubernetes): a client that
# remembers a revision from before the restore is told it was compacted
# and lists again, instead of taking revisions the restored data hands
# out again, for other changes, as ones it has already seen.
set -eu
trap "rm -f '/var/lib/meshready/restore-20261203T093000Z.db'" EXIT
cd '/var/lib/etcd'
rm -rf '.restored-20261203T093000Z'
'/var/lib/meshready/bin/etcdutl' snapshot restore '/var/lib/meshready/restore-20261203T093000Z.db' \
  --name 'local-cp-2' \
  --initial-cluster 'local-cp-1=https://10.213.0.2:2380,local-cp-2=https://10.213.0.3:2380' \
  --initial-cluster-token 'meshready-restore-20261203T093000Z' \
  --initial-advertise-peer-urls 'https://10.213.0.3:2380' \
  --bump-revision 1000000000 --mark-compacted \
  --data-dir '.restored-20261203T093000Z'
mkdir -p '.before-restore-20261203T093000Z'
if [ -d member ]; then
  mv member '.before-restore-20261203T093000Z'/member
fi
mv '.restored-20261203T093000Z'/member member
rmdir '.restored-20261203T093000Z'
