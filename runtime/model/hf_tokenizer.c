/* Reads a Hugging Face tokenizer.json with cJSON into a vocabulary source:
 * ids and texts from model.vocab and added_tokens, merges in rank order,
 * the kind from the pipeline around the model. Strings point into the
 * parsed JSON, which lives until the tokenizer has copied them. */
#include "model/hf_tokenizer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mapped_file.h"

/* Bounds no real tokenizer comes near; beyond them a file is hostile. */
#define MAX_FILE_SIZE ((size_t)256 << 20)
#define MAX_TOKENS (1 << 24)
#define MAX_MERGES (1 << 24)

/* Ids may leave gaps (they become unused tokens), but not more gaps than
 * tokens: else one entry with id 16M would cost 16M tokens of memory. */
#define SPARE_IDS 256

/* Pipeline steps nest in Sequences; deeper than this is not a real file. */
#define MAX_STEP_DEPTH 16

/* Token texts shown in messages are cut to this many bytes. */
#define SHOWN 40

#define BAD(err, ...) vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER, __VA_ARGS__)

static const char META_SPACE[] = "\xE2\x96\x81";   /* U+2581 */

/* No token has this type: it marks an id not given yet. */
#define NO_TOKEN 0

typedef struct hf_vocab {
    vkl_vocab_source source;
    const char **texts;
    size_t *lengths;
    int32_t *types;
    const char **merges;
    size_t *merge_lengths;
    char *joined;           /* "a b" for merges written as ["a", "b"] */
} hf_vocab;

static void free_vocab(hf_vocab *hf)
{
    free(hf->texts);
    free(hf->lengths);
    free(hf->types);
    free(hf->merges);
    free(hf->merge_lengths);
    free(hf->joined);
}

static const cJSON *member(const cJSON *object, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(object, name);
}

static bool is_string(const cJSON *item, const char *text)
{
    return cJSON_IsString(item) && strcmp(item->valuestring, text) == 0;
}

/* ------------------------------------------------------------------------ */
/* The model and its kind                                                     */

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static vkllm_status parse_root(const char *json, size_t len, cJSON **root, vkl_error *err)
{
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    size_t at = end != NULL && end >= json && end <= json + len ? (size_t)(end - json) : 0;
    if (*root == NULL)
        return BAD(err, "tokenizer.json is not valid JSON (stopped at byte %zu of %zu)", at,
                   len);

    while (at < len && is_json_space(json[at]))
        at++;
    if (at < len)
        return BAD(err, "tokenizer.json goes on after its JSON value, at byte %zu", at);
    if (!cJSON_IsObject(*root))
        return BAD(err, "tokenizer.json is not a JSON object");
    return VKLLM_OK;
}

/* Files from before "type" was written hold BPE models only. */
static vkllm_status find_model(const cJSON *root, const cJSON **model, vkl_error *err)
{
    *model = member(root, "model");
    if (!cJSON_IsObject(*model))
        return BAD(err, "tokenizer.json has no \"model\" object");

    const cJSON *type = member(*model, "type");
    if (type != NULL && !is_string(type, "BPE"))
        return BAD(err, "model type %.*s is not supported (BPE is)", SHOWN,
                   cJSON_IsString(type) ? type->valuestring : "(not a string)");
    return VKLLM_OK;
}

/* The step of this type in a pipeline part, looking inside Sequences. */
static const cJSON *find_step(const cJSON *node, const char *type, int depth)
{
    if (!cJSON_IsObject(node) || depth > MAX_STEP_DEPTH)
        return NULL;
    if (is_string(member(node, "type"), type))
        return node;

    static const char *const LISTS[] = { "normalizers", "pretokenizers", "decoders" };
    for (size_t i = 0; i < sizeof LISTS / sizeof LISTS[0]; i++) {
        const cJSON *step = NULL;
        const cJSON *list = member(node, LISTS[i]);
        const cJSON *steps = cJSON_IsArray(list) ? list : NULL;
        cJSON_ArrayForEach(step, steps) {
            const cJSON *found = find_step(step, type, depth + 1);
            if (found != NULL)
                return found;
        }
    }
    return NULL;
}

static vkllm_status decide_kind(const cJSON *root, const cJSON *model,
                                vkl_tokenizer_kind *kind, vkl_error *err)
{
    if (find_step(member(root, "pre_tokenizer"), "ByteLevel", 0) != NULL ||
        find_step(member(root, "decoder"), "ByteLevel", 0) != NULL) {
        *kind = VKL_TOKENIZER_BPE;
        return VKLLM_OK;
    }
    if (cJSON_IsTrue(member(model, "byte_fallback"))) {
        *kind = VKL_TOKENIZER_SPM;
        return VKLLM_OK;
    }
    return BAD(err, "a BPE model neither byte-level nor with byte_fallback is not supported");
}

/* A Prepend("▁") normalizer, or a Metaspace pre-tokenizer that prepends
 * (its default, both in the old add_prefix_space and the newer scheme). */
static bool prepends_space(const cJSON *root)
{
    const cJSON *prepend = find_step(member(root, "normalizer"), "Prepend", 0);
    if (prepend != NULL && is_string(member(prepend, "prepend"), META_SPACE))
        return true;

    const cJSON *metaspace = find_step(member(root, "pre_tokenizer"), "Metaspace", 0);
    if (metaspace == NULL)
        return false;

    const cJSON *scheme = member(metaspace, "prepend_scheme");
    if (cJSON_IsString(scheme))
        return strcmp(scheme->valuestring, "never") != 0;
    const cJSON *add = member(metaspace, "add_prefix_space");
    return !cJSON_IsBool(add) || cJSON_IsTrue(add);
}

/* ------------------------------------------------------------------------ */
/* Ids and texts                                                              */

static bool read_id(const cJSON *item, int32_t *id)
{
    if (!cJSON_IsNumber(item))
        return false;

    double value = item->valuedouble;
    if (!(value >= 0 && value < MAX_TOKENS) || value != floor(value))
        return false;
    *id = (int32_t)value;
    return true;
}

static vkllm_status check_vocab(const cJSON *vocab, int32_t *highest, size_t *entries,
                                vkl_error *err)
{
    if (!cJSON_IsObject(vocab))
        return BAD(err, "model.vocab is not an object of token texts and ids");

    const cJSON *entry = NULL;
    cJSON_ArrayForEach(entry, vocab) {
        int32_t id = 0;
        if (!read_id(entry, &id))
            return BAD(err, "model.vocab[\"%.*s\"] is not a token id below %d", SHOWN,
                       entry->string, MAX_TOKENS);
        *highest = id > *highest ? id : *highest;
        (*entries)++;
    }
    return VKLLM_OK;
}

static vkllm_status check_added(const cJSON *added, int32_t *highest, size_t *entries,
                                vkl_error *err)
{
    if (added == NULL || cJSON_IsNull(added))
        return VKLLM_OK;
    if (!cJSON_IsArray(added))
        return BAD(err, "added_tokens is not an array");

    const cJSON *token = NULL;
    size_t index = 0;
    cJSON_ArrayForEach(token, added) {
        int32_t id = 0;
        if (!read_id(member(token, "id"), &id) || !cJSON_IsString(member(token, "content")))
            return BAD(err, "added_tokens[%zu] needs an id below %d and a content string",
                       index, MAX_TOKENS);
        *highest = id > *highest ? id : *highest;
        (*entries)++;
        index++;
    }
    return VKLLM_OK;
}

static vkllm_status count_tokens(const cJSON *vocab, const cJSON *added, int32_t *count,
                                 vkl_error *err)
{
    int32_t highest = -1;
    size_t entries = 0;
    vkllm_status status = check_vocab(vocab, &highest, &entries, err);
    if (status == VKLLM_OK)
        status = check_added(added, &highest, &entries, err);
    if (status != VKLLM_OK)
        return status;

    if (highest < 0)
        return BAD(err, "the vocabulary is empty");
    if ((size_t)highest >= 2 * entries + SPARE_IDS)
        return BAD(err, "token ids reach %d with only %zu tokens given", highest, entries);
    *count = highest + 1;
    return VKLLM_OK;
}

static vkllm_status allocate_tokens(hf_vocab *hf, int32_t count, vkl_error *err)
{
    hf->texts = calloc((size_t)count, sizeof *hf->texts);
    hf->lengths = calloc((size_t)count, sizeof *hf->lengths);
    hf->types = calloc((size_t)count, sizeof *hf->types);
    if (hf->texts == NULL || hf->lengths == NULL || hf->types == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory for %d tokens",
                        count);
    hf->source.count = count;
    return VKLLM_OK;
}

static void set_token(hf_vocab *hf, int32_t id, const char *text, int32_t type)
{
    hf->texts[id] = text;
    hf->lengths[id] = strlen(text);
    hf->types[id] = type;
}

/* "<0xHH>", the byte-fallback tokens of a Llama vocabulary. */
static bool is_byte_text(const char *text)
{
    static const char HEX[] = "0123456789ABCDEFabcdef";
    return strlen(text) == 6 && memcmp(text, "<0x", 3) == 0 && text[5] == '>' &&
           strchr(HEX, text[3]) != NULL && strchr(HEX, text[4]) != NULL;
}

static vkllm_status fill_vocab(hf_vocab *hf, const cJSON *vocab, vkl_error *err)
{
    bool spm = hf->source.kind == VKL_TOKENIZER_SPM;
    const cJSON *entry = NULL;
    cJSON_ArrayForEach(entry, vocab) {
        int32_t id = 0;
        read_id(entry, &id);
        if (hf->types[id] != NO_TOKEN)
            return BAD(err, "model.vocab gives id %d to \"%.*s\" and \"%.*s\"", id, SHOWN,
                       hf->texts[id], SHOWN, entry->string);

        bool byte = spm && is_byte_text(entry->string);
        set_token(hf, id, entry->string, byte ? VKL_TOKEN_BYTE : VKL_TOKEN_NORMAL);
    }
    return VKLLM_OK;
}

/* Added tokens override model.vocab on a shared id, as in Hugging Face. */
static void fill_added(hf_vocab *hf, const cJSON *added)
{
    const cJSON *token = NULL;
    const cJSON *tokens = cJSON_IsArray(added) ? added : NULL;
    cJSON_ArrayForEach(token, tokens) {
        int32_t id = 0;
        read_id(member(token, "id"), &id);
        bool special = cJSON_IsTrue(member(token, "special"));
        set_token(hf, id, member(token, "content")->valuestring,
                  special ? VKL_TOKEN_CONTROL : VKL_TOKEN_USER_DEFINED);
    }
}

static void fill_gaps(hf_vocab *hf)
{
    for (int32_t id = 0; id < hf->source.count; id++) {
        if (hf->types[id] == NO_TOKEN)
            set_token(hf, id, "", VKL_TOKEN_UNUSED);
    }
}

static vkllm_status read_tokens(hf_vocab *hf, const cJSON *root, const cJSON *model,
                                vkl_error *err)
{
    const cJSON *vocab = member(model, "vocab");
    const cJSON *added = member(root, "added_tokens");
    int32_t count = 0;
    vkllm_status status = count_tokens(vocab, added, &count, err);
    if (status == VKLLM_OK)
        status = allocate_tokens(hf, count, err);
    if (status == VKLLM_OK)
        status = fill_vocab(hf, vocab, err);
    if (status != VKLLM_OK)
        return status;

    fill_added(hf, added);
    fill_gaps(hf);
    hf->source.texts = hf->texts;
    hf->source.lengths = hf->lengths;
    hf->source.types = hf->types;
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Merges                                                                     */

/* A merge is "a b", or ["a", "b"] in newer files (right is NULL for the
 * first form). */
static vkllm_status merge_parts(const cJSON *merge, size_t rank, const cJSON **left,
                                const cJSON **right, vkl_error *err)
{
    *left = merge;
    *right = NULL;
    if (cJSON_IsString(merge))
        return VKLLM_OK;

    if (cJSON_IsArray(merge) && cJSON_GetArraySize(merge) == 2) {
        *left = cJSON_GetArrayItem(merge, 0);
        *right = cJSON_GetArrayItem(merge, 1);
        if (cJSON_IsString(*left) && cJSON_IsString(*right))
            return VKLLM_OK;
    }
    return BAD(err, "model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", rank);
}

/* Checks every merge and sizes the text the array form needs joined. */
static vkllm_status size_merges(const cJSON *merges, size_t *joined_size, vkl_error *err)
{
    const cJSON *merge = NULL;
    size_t rank = 0;
    *joined_size = 1;
    cJSON_ArrayForEach(merge, merges) {
        const cJSON *left = NULL;
        const cJSON *right = NULL;
        vkllm_status status = merge_parts(merge, rank++, &left, &right, err);
        if (status != VKLLM_OK)
            return status;
        if (right != NULL)
            *joined_size += strlen(left->valuestring) + 1 + strlen(right->valuestring);
    }
    return VKLLM_OK;
}

static void spell_merges(hf_vocab *hf, const cJSON *merges)
{
    const cJSON *merge = NULL;
    size_t rank = 0;
    size_t offset = 0;
    cJSON_ArrayForEach(merge, merges) {
        const cJSON *left = NULL;
        const cJSON *right = NULL;
        merge_parts(merge, rank, &left, &right, NULL);
        if (right == NULL) {
            hf->merges[rank] = left->valuestring;
            hf->merge_lengths[rank++] = strlen(left->valuestring);
            continue;
        }

        size_t left_len = strlen(left->valuestring);
        size_t right_len = strlen(right->valuestring);
        char *text = hf->joined + offset;
        memcpy(text, left->valuestring, left_len);
        text[left_len] = ' ';
        memcpy(text + left_len + 1, right->valuestring, right_len);
        hf->merges[rank] = text;
        hf->merge_lengths[rank++] = left_len + 1 + right_len;
        offset += left_len + 1 + right_len;
    }
}

static vkllm_status read_merges(hf_vocab *hf, const cJSON *model, vkl_error *err)
{
    const cJSON *merges = member(model, "merges");
    if (merges == NULL)
        return VKLLM_OK;
    if (!cJSON_IsArray(merges))
        return BAD(err, "model.merges is not an array");

    int count = cJSON_GetArraySize(merges);
    size_t joined_size = 0;
    if (count > MAX_MERGES)
        return BAD(err, "model.merges has %d entries", count);
    vkllm_status status = size_merges(merges, &joined_size, err);
    if (status != VKLLM_OK)
        return status;

    hf->merges = malloc(((size_t)count + 1) * sizeof *hf->merges);
    hf->merge_lengths = malloc(((size_t)count + 1) * sizeof *hf->merge_lengths);
    hf->joined = malloc(joined_size);
    if (hf->merges == NULL || hf->merge_lengths == NULL || hf->joined == NULL)
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY, "no memory for %d merges", count);

    spell_merges(hf, merges);
    hf->source.merge_count = count;
    hf->source.merges = hf->merges;
    hf->source.merge_lengths = hf->merge_lengths;
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Special tokens                                                             */

static int32_t find_text(const hf_vocab *hf, const char *text)
{
    for (int32_t id = 0; id < hf->source.count; id++) {
        if (hf->types[id] != VKL_TOKEN_UNUSED && strcmp(hf->texts[id], text) == 0)
            return id;
    }
    return -1;
}

static int32_t find_either(const hf_vocab *hf, const char *text, const char *fallback)
{
    int32_t id = find_text(hf, text);
    return id >= 0 ? id : find_text(hf, fallback);
}

static vkllm_status find_specials(hf_vocab *hf, const cJSON *model, vkl_error *err)
{
    hf->source.bos = find_either(hf, "<s>", "<|endoftext|>");
    hf->source.eos = find_either(hf, "</s>", "<|endoftext|>");
    hf->source.unk = -1;

    const cJSON *unk = member(model, "unk_token");
    if (unk == NULL || cJSON_IsNull(unk))
        return VKLLM_OK;
    if (!cJSON_IsString(unk))
        return BAD(err, "model.unk_token is not a string");

    hf->source.unk = find_text(hf, unk->valuestring);
    if (hf->source.unk < 0)
        return BAD(err, "model.unk_token \"%.*s\" is not in the vocabulary", SHOWN,
                   unk->valuestring);
    hf->types[hf->source.unk] = VKL_TOKEN_UNKNOWN;
    return VKLLM_OK;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                               */

static vkllm_status read_vocab(hf_vocab *hf, const cJSON *root, vkl_error *err)
{
    const cJSON *model = NULL;
    vkllm_status status = find_model(root, &model, err);
    if (status == VKLLM_OK)
        status = decide_kind(root, model, &hf->source.kind, err);
    if (status == VKLLM_OK)
        status = read_tokens(hf, root, model, err);
    if (status == VKLLM_OK)
        status = read_merges(hf, model, err);
    if (status == VKLLM_OK)
        status = find_specials(hf, model, err);

    hf->source.add_space_prefix = prepends_space(root);
    return status;
}

vkllm_status vkl_hf_tokenizer_parse(const char *json, size_t len, vkl_tokenizer **out,
                                    vkl_error *err)
{
    if ((json == NULL && len > 0) || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "JSON text or output is NULL");
    *out = NULL;

    /* Editors on some systems start UTF-8 files with a byte order mark. */
    if (json != NULL && len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        json += 3;
        len -= 3;
    }
    cJSON *root = NULL;
    hf_vocab hf = { .source = { .bos = -1, .eos = -1, .unk = -1 } };
    vkllm_status status = parse_root(json == NULL ? "" : json, len, &root, err);
    if (status == VKLLM_OK)
        status = read_vocab(&hf, root, err);
    if (status == VKLLM_OK)
        status = vkl_tokenizer_create(&hf.source, out, err);

    free_vocab(&hf);
    cJSON_Delete(root);
    return status;
}

/* Puts the path in front of a message the parser left. */
static vkllm_status name_failure(const char *path, vkllm_status status, vkl_error *err)
{
    if (err == NULL)
        return status;

    char message[VKL_ERROR_MESSAGE_SIZE];
    memcpy(message, err->message, sizeof message);
    return vkl_fail(err, status, "%s: %s", path, message);
}

vkllm_status vkl_hf_tokenizer_load(const char *path, vkl_tokenizer **out, vkl_error *err)
{
    if (path == NULL || out == NULL)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "tokenizer path or output is NULL");
    *out = NULL;

    vkl_mapped_file file;
    vkllm_status status = vkl_mapped_file_open(path, &file, err);
    if (status != VKLLM_OK)
        return status;

    if (file.size > MAX_FILE_SIZE) {
        size_t size = file.size;
        vkl_mapped_file_close(&file);
        return vkl_fail(err, VKLLM_ERROR_BAD_TOKENIZER,
                        "%s: %zu bytes is too large for a tokenizer", path, size);
    }

    status = vkl_hf_tokenizer_parse(file.data, file.size, out, err);
    vkl_mapped_file_close(&file);
    return status == VKLLM_OK ? status : name_failure(path, status, err);
}
