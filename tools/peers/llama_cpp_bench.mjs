// Times llama.cpp on a GGUF the way `vkllm bench` times vkllm: prompt
// processing of P random tokens from an empty context (pp) and generation
// of N tokens one at a time (tg), after one warm-up of each, repeated R
// times; prints one JSON line with tokens per second (mean and standard
// deviation). llama.cpp comes from node-llama-cpp's prebuilt binaries,
// installed outside the project (see docs/PERFORMANCE.md):
//
//   node llama_cpp_bench.mjs cpu|vulkan MODEL.gguf [P=64] [N=32] [R=2] [THREADS=2]
//
// On lavapipe, ggml's Vulkan backend skips devices that report no device-
// local memory unless GGML_VK_VISIBLE_DEVICES=0 is set.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [backend, modelPath, ...rest] = process.argv.slice(2);
const [prompt, generate, repeats, threads] = [64, 32, 2, 2].map((d, i) =>
    rest[i] === undefined ? d : Number(rest[i]));
if (!["cpu", "vulkan"].includes(backend) || !modelPath) {
    console.error("usage: node llama_cpp_bench.mjs cpu|vulkan MODEL.gguf [P] [N] [R] [THREADS]");
    process.exit(2);
}

const onGpu = backend === "vulkan";
const llama = await getLlama({gpu: onGpu ? "vulkan" : false, build: "never",
                              maxThreads: threads, logLevel: LlamaLogLevel.warn});
const model = await llama.loadModel({modelPath, gpuLayers: onGpu ? "max" : 0});
const context = await model.createContext({contextSize: prompt + generate + 16,
                                           batchSize: Math.max(prompt, 1), threads,
                                           flashAttention: false});
const sequence = context.getSequence();

// Token ids drawn from a fixed linear congruential sequence, past the
// usual special tokens.
const vocabulary = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 32000;
let state = 1;
function randomTokens(count) {
    const tokens = [];
    for (let i = 0; i < count; i++) {
        state = (state * 1103515245 + 12345) % 2147483648;
        tokens.push(3 + state % (vocabulary - 3));
    }
    return tokens;
}

async function promptSeconds() {
    await sequence.clearHistory();
    const tokens = randomTokens(prompt);
    const start = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(tokens);
    return (performance.now() - start) / 1000;
}

async function generateSeconds() {
    await sequence.clearHistory();
    let produced = 0;
    const start = performance.now();
    for await (const token of sequence.evaluate(randomTokens(1), {temperature: 0})) {
        if (++produced >= generate)
            break;
    }
    return (performance.now() - start) / 1000;
}

async function rates(run, tokens) {
    await run();    // warm-up
    const values = [];
    for (let i = 0; i < repeats; i++)
        values.push(tokens / await run());
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const spread = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(values.length - 1, 1);
    return {mean: +mean.toFixed(2), sd: +Math.sqrt(spread).toFixed(2)};
}

const pp = await rates(promptSeconds, prompt);
const tg = await rates(generateSeconds, generate);
console.log(JSON.stringify({engine: "llama.cpp", release: llama.llamaCppRelease?.release,
                            backend, model: modelPath, gpu_layers: model.gpuLayers, threads,
                            [`pp${prompt}`]: pp, [`tg${generate}`]: tg}));
await context.dispose();
await model.dispose();
await llama.dispose();
