#!/bin/sh
# The device check for a machine with a GPU: kernel rates, prompt and
# generation speed of Llama 110M and TinyLlama 1.1B at F16, Q8_0 and Q4_0,
# and generation as a share of the memory-bandwidth roofline (weight bytes
# per token over the rate `bench-ops` measures for a buffer copy, counting
# each byte read and written). Writes JSON and a summary to OUT_DIR.
#
#   tools/gpu_check.sh BUILD_DIR OUT_DIR [DEVICE]
#
# BUILD_DIR holds a built vkllm (vkllm and vkllm-gguf); DEVICE is an index or
# part of a name, the default device otherwise. SHAPES, TYPES, PROMPT, GENERATE
# and REPEATS override what is measured (for a quick run on a CPU device).
# With PEAK_F16_TFLOPS (the device's dense F16 peak, from its data sheet) the
# summary also gives the F16 matrix multiply's rate as a share of it.
set -eu
shapes=${SHAPES:-"llama-110m tinyllama-1.1b"}
types=${TYPES:-"f16 q8_0 q4_0"}
prompt=${PROMPT:-512}
generate=${GENERATE:-128}
repeats=${REPEATS:-3}

build=$1
out=$2
device=${3:-}
mkdir -p "$out"
device_arg=""
[ -n "$device" ] && device_arg="--device $device"

"$build/vkllm" devices | tee "$out/devices.txt"
"$build/vkllm" bench-ops $device_arg --json > "$out/bench_ops.json"
"$build/vkllm" bench-ops $device_arg | tee "$out/bench_ops.md"
copy_gbs=$(grep -A8 '"op":[[:space:]]*"copy"' "$out/bench_ops.json" |
           sed -n 's/.*"gbytes_per_second":[[:space:]]*\([0-9.e+-]*\).*/\1/p' | head -n 1)

for shape in $shapes; do
    for type in $types; do
        model="$out/$shape-$type.gguf"
        extra=""
        [ "$type" = q4_0 ] && extra="--output-type q6_k"
        "$build/vkllm-gguf" synth "$shape" "$model" --type "$type" $extra -q
        "$build/vkllm" bench -m "$model" -p "$prompt" -n "$generate" -r "$repeats" \
            -b "$prompt" $device_arg --json \
            > "$out/bench-$shape-$type.json"
        rm -f "$model"
    done
done

# tokens/s x weight bytes / copy rate, per model, from the bench JSON.
{
    echo "copy rate: $copy_gbs GB/s (bytes read and written)"
    if [ -n "${PEAK_F16_TFLOPS:-}" ]; then
        # The largest F16 matmul case of bench-ops, against the peak.
        awk -v peak="$PEAK_F16_TFLOPS" '
            /"op":/ { op = $2 } /"type":/ { type = $2 } /"tokens":/ { tokens = $2 + 0 }
            /"gflops":/ { gsub(/[^0-9.e+]/, "", $2);
                if (op ~ /matmul/ && type ~ /F16/ && tokens >= best_tokens) {
                    best_tokens = tokens; rate = $2 } }
            END { printf "F16 matmul (%d tokens): %.0f GFLOP/s, %.1f%% of %s TFLOP/s\n",
                         best_tokens, rate, rate / (peak * 10), peak }' "$out/bench_ops.json"
    fi
    for f in "$out"/bench-*.json; do
        awk -v copy="$copy_gbs" -v name="$(basename "$f" .json)" '
            /"model_bytes"/ { gsub(/[^0-9.e+]/, "", $2); bytes = $2 }
            /"test"/ { test = $2; gsub(/[",]/, "", test) }
            /"tokens_per_second"/ { gsub(/[^0-9.e+]/, "", $2);
                printf "%s %s: %.2f t/s", name, test, $2;
                if (test ~ /^tg/) printf ", %.0f%% of the roofline", 100 * $2 * bytes / (copy * 1e9);
                printf "\n" }' "$f"
    done
} | tee "$out/summary.txt"
