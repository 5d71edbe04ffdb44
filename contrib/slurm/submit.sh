#!/bin/bash
# submit.sh SCENARIO SHARDS OUTDIR OUT.db: a peko sweep on a Slurm cluster,
# as the README's GNU parallel example does it on hosts over ssh: SHARDS
# array tasks (peko-shard.sbatch), then one merge (peko-merge.sbatch)
# once every task succeeded. Extra sbatch options (a partition, an
# account) go in SBATCH_* environment variables, which sbatch reads.
set -euo pipefail

if [ $# -ne 4 ]; then
    echo "usage: $0 SCENARIO SHARDS OUTDIR OUT.db" >&2
    exit 2
fi
scenario=$1
shards=$2
outdir=$3
out=$4
here=$(cd "$(dirname "$0")" && pwd)
case $shards in
'' | *[!0-9]* | 0)
    echo "submit: SHARDS must be a positive number, not '$shards'" >&2
    exit 2
    ;;
esac

array=$(sbatch --parsable --array="1-$shards" "$here/peko-shard.sbatch" \
    "$scenario" "$outdir")
array=${array%%;*} # --parsable prints "id" or "id;cluster"
sbatch --dependency="afterok:$array" "$here/peko-merge.sbatch" "$outdir" "$out"
echo "submitted: shards as job $array, the merge after it"
