/* The merge loop both kinds share: symbols in a linked list over an array,
 * and a binary heap of the adjacent pairs that merge, best first. A merge
 * leaves stale entries behind instead of searching the heap; they are
 * recognised when they surface. Every pair is queued once when it forms,
 * so the heap needs at most three entries per symbol. */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* The most symbols text of this length can become: one per byte, or three
 * per byte where SPM spells an escaped space "▁" (3 bytes) byte by byte. */
static size_t most_symbols(const vkl_tokenizer *tok, size_t text_len)
{
    if (tok->kind == VKL_TOKENIZER_BPE)
        return text_len;
    if (tok->llama2c || tok->space >= 0)
        return text_len + 1;
    return 3 * text_len + 3;
}

vkllm_status vkl_encode_work_create(const vkl_tokenizer *tok, size_t text_len,
                                    vkl_encode_work *work, vkl_error *err)
{
    *work = (vkl_encode_work){ 0 };
    if (text_len > VKL_MAX_ENCODE_BYTES)
        return vkl_fail(err, VKLLM_ERROR_INVALID_ARGUMENT, "text of %zu bytes is too long",
                        text_len);

    size_t symbols = most_symbols(tok, text_len);
    work->ids = malloc((symbols + 1) * sizeof *work->ids);
    work->symbols = malloc((symbols + 1) * sizeof *work->symbols);
    work->heap = malloc((3 * symbols + 1) * sizeof *work->heap);
    work->text = malloc(3 * text_len + 1);
    work->pair = malloc(2 * tok->max_text_len + 1);
    if (work->ids == NULL || work->symbols == NULL || work->heap == NULL ||
        work->text == NULL || work->pair == NULL) {
        vkl_encode_work_free(work);
        return vkl_fail(err, VKLLM_ERROR_OUT_OF_HOST_MEMORY,
                        "no memory to encode %zu bytes of text", text_len);
    }
    return VKLLM_OK;
}

void vkl_encode_work_free(vkl_encode_work *work)
{
    free(work->ids);
    free(work->symbols);
    free(work->heap);
    free(work->text);
    free(work->pair);
    *work = (vkl_encode_work){ 0 };
}

void vkl_push_symbol(vkl_encode_work *work, int32_t id)
{
    int32_t index = (int32_t)work->symbol_count++;
    work->symbols[index] = (vkl_symbol){ id, index - 1, -1 };
    if (index > 0)
        work->symbols[index - 1].next = index;
}

/* Bytes without a token of their own become the unknown token, or nothing
 * in a vocabulary without one. */
void vkl_push_byte(const vkl_tokenizer *tok, vkl_encode_work *work, unsigned char byte)
{
    int32_t id = tok->byte_tokens[byte] >= 0 ? tok->byte_tokens[byte] : tok->unk;
    if (id >= 0)
        vkl_push_symbol(work, id);
}

/* ------------------------------------------------------------------------ */
/* The heap                                                                   */

/* Higher priority first; on a tie the leftmost pair, as llama2.c's scan
 * and GPT-2's rank order both pick it. */
static bool better(const vkl_candidate *a, const vkl_candidate *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    return a->left < b->left;
}

static void swap_candidates(vkl_candidate *a, vkl_candidate *b)
{
    vkl_candidate held = *a;
    *a = *b;
    *b = held;
}

static void heap_push(vkl_encode_work *work, const vkl_candidate *candidate)
{
    vkl_candidate *heap = work->heap;
    size_t child = work->heap_len++;
    heap[child] = *candidate;

    while (child > 0 && better(&heap[child], &heap[(child - 1) / 2])) {
        swap_candidates(&heap[child], &heap[(child - 1) / 2]);
        child = (child - 1) / 2;
    }
}

static vkl_candidate heap_pop(vkl_encode_work *work)
{
    vkl_candidate *heap = work->heap;
    vkl_candidate top = heap[0];
    heap[0] = heap[--work->heap_len];

    size_t parent = 0;
    for (;;) {
        size_t best = parent;
        size_t left = 2 * parent + 1;
        if (left < work->heap_len && better(&heap[left], &heap[best]))
            best = left;
        if (left + 1 < work->heap_len && better(&heap[left + 1], &heap[best]))
            best = left + 1;
        if (best == parent)
            return top;
        swap_candidates(&heap[parent], &heap[best]);
        parent = best;
    }
}

/* ------------------------------------------------------------------------ */
/* Pairs                                                                      */

/* SPM: the token spelled by both texts side by side, if it scores above
 * VKL_NO_MERGE_SCORE; its score is the priority. */
static bool spm_pair(const vkl_tokenizer *tok, int32_t left, int32_t right, char *buffer,
                     vkl_candidate *candidate)
{
    const vkl_token_entry *a = &tok->tokens[left];
    const vkl_token_entry *b = &tok->tokens[right];
    memcpy(buffer, tok->texts + a->text, a->text_len);
    memcpy(buffer + a->text_len, tok->texts + b->text, b->text_len);

    int32_t id = vkl_text_index_find(tok, buffer, (size_t)a->text_len + b->text_len);
    if (id < 0 || !(tok->tokens[id].score > VKL_NO_MERGE_SCORE))
        return false;
    candidate->priority = tok->tokens[id].score;
    candidate->result = id;
    return true;
}

/* BPE: the merge listed for the two ids; the lowest rank goes first. */
static bool bpe_pair(const vkl_tokenizer *tok, int32_t left, int32_t right,
                     vkl_candidate *candidate)
{
    const vkl_merge_rule *rule = vkl_merge_index_find(tok, left, right);
    if (rule == NULL)
        return false;
    candidate->priority = -(float)rule->rank;
    candidate->result = rule->result;
    return true;
}

/* Queues the pair that starts at symbol index left, if it merges. */
static void queue_pair(const vkl_tokenizer *tok, vkl_encode_work *work, int32_t left)
{
    if (left < 0 || work->symbols[left].next < 0)
        return;

    int32_t right = work->symbols[left].next;
    vkl_candidate candidate = {
        .left = left,
        .right = right,
        .left_id = work->symbols[left].id,
        .right_id = work->symbols[right].id,
    };
    bool merges = tok->kind == VKL_TOKENIZER_BPE
                      ? bpe_pair(tok, candidate.left_id, candidate.right_id, &candidate)
                      : spm_pair(tok, candidate.left_id, candidate.right_id, work->pair,
                                 &candidate);
    if (merges)
        heap_push(work, &candidate);
}

/* A merge gives its left symbol a new id and unlinks its right one, whose
 * id becomes -1 so that no queued pair can name it as still there. */
static bool is_current(const vkl_encode_work *work, const vkl_candidate *candidate)
{
    const vkl_symbol *left = &work->symbols[candidate->left];
    const vkl_symbol *right = &work->symbols[candidate->right];
    return left->id == candidate->left_id && left->next == candidate->right &&
           right->id == candidate->right_id;
}

static void apply_merge(vkl_encode_work *work, const vkl_candidate *candidate)
{
    vkl_symbol *left = &work->symbols[candidate->left];
    vkl_symbol *right = &work->symbols[candidate->right];
    left->id = candidate->result;
    left->next = right->next;
    if (right->next >= 0)
        work->symbols[right->next].prev = candidate->left;
    right->id = -1;
}

size_t vkl_merge_symbols(const vkl_tokenizer *tok, vkl_encode_work *work, int32_t *ids)
{
    work->heap_len = 0;
    for (size_t i = 0; i + 1 < work->symbol_count; i++)
        queue_pair(tok, work, (int32_t)i);

    while (work->heap_len > 0) {
        vkl_candidate candidate = heap_pop(work);
        if (!is_current(work, &candidate))
            continue;

        apply_merge(work, &candidate);
        queue_pair(tok, work, work->symbols[candidate.left].prev);
        queue_pair(tok, work, candidate.left);
    }

    /* Symbol 0 is never a right-hand side, so the list always starts there. */
    size_t count = 0;
    for (int32_t i = work->symbol_count > 0 ? 0 : -1; i >= 0; i = work->symbols[i].next)
        ids[count++] = work->symbols[i].id;
    return count;
}
