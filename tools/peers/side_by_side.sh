#!/bin/sh
# Side by side on one machine: for each GGUF model, vkllm's bench and then
# llama.cpp's CPU and Vulkan backends (tools/peers/llama_cpp_bench.mjs),
# one after another so that they never share the cores. Prints one Markdown
# row per model and engine: tokens per second, mean and standard deviation.
#
#   tools/peers/side_by_side.sh BUILD_DIR NODE_LLAMA_DIR [-p 64] [-n 32] [-r 2] MODEL...
#
# NODE_LLAMA_DIR is a folder where `npm i -E node-llama-cpp@3.21.1` was run.
# SKIP_VULKAN=1 leaves out llama.cpp's Vulkan backend (slow on lavapipe).
set -eu

build=$1
node_dir=$2
shift 2
prompt=64 generate=32 repeats=2
while [ $# -gt 0 ]; do
    case $1 in
        -p) prompt=$2; shift 2 ;;
        -n) generate=$2; shift 2 ;;
        -r) repeats=$2; shift 2 ;;
        *) break ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
cp "$here/llama_cpp_bench.mjs" "$node_dir/"

rate() {    # rate JSON KEY -> "mean ± sd"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=d[sys.argv[2]]; print("%.2f ± %.2f" % (r["mean"], r["sd"]))' "$1" "$2"
}

echo "| model | engine | pp$prompt | tg$generate |"
echo "| --- | --- | ---: | ---: |"
for model in "$@"; do
    name=$(basename "$model")
    "$build/vkllm" bench -m "$model" -p "$prompt" -n "$generate" -r "$repeats" -b "$prompt" --json |
        python3 -c 'import json,sys
rows = json.load(sys.stdin)
cells = ["%.2f ± %.2f" % (r["tokens_per_second"], r["stddev"]) for r in rows]
print("| %s | vkllm (%s) | %s | %s |" % (sys.argv[1], rows[0]["device"], cells[0], cells[1]))' "$name"

    backends="cpu vulkan"
    [ "${SKIP_VULKAN:-0}" = 1 ] && backends=cpu
    for backend in $backends; do
        json=$(cd "$node_dir" && GGML_VK_VISIBLE_DEVICES=0 node llama_cpp_bench.mjs "$backend" \
               "$model" "$prompt" "$generate" "$repeats" 2 | tail -n 1)
        echo "| $name | llama.cpp $backend | $(rate "$json" "pp$prompt") | $(rate "$json" "tg$generate") |"
    done
done
