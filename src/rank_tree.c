/*
 * rank_tree.c - the treap behind exact percentiles of standing windows.
 *
 * Priorities are kept in max-heap order (a parent's is >= its children's)
 * and drawn from a private xorshift generator, so no order of values a
 * producer can choose makes the tree deep.  Insert splits at the new
 * node's place when its priority wins, removal joins the removed node's
 * two subtrees; both touch one root-to-node path, O(log n) expected.
 * The recursion is as deep as the tree, about 2 ln n: 30 levels for a
 * million values.
 */
#include <stdlib.h>

#include "rank_tree.h"

struct rank_node {
    double value;
    uint32_t left, right;
    uint32_t size;          /* nodes in this subtree, this one included */
    uint32_t prio;
};

void rank_tree_init(struct rank_tree *t)
{
    t->node = NULL;
    t->cap = t->used = t->free_list = t->root = 0;
    t->seed = 0x2545f4914f6cdd1dULL;
}

void rank_tree_free(struct rank_tree *t)
{
    free(t->node);
    rank_tree_init(t);
}

static uint32_t next_prio(struct rank_tree *t)
{
    t->seed ^= t->seed << 13;
    t->seed ^= t->seed >> 7;
    t->seed ^= t->seed << 17;
    return (uint32_t)(t->seed >> 32);
}

/* Reallocate the node array to `cap` nodes, node[0] included. */
static int grow_to(struct rank_tree *t, size_t cap)
{
    struct rank_node *n;

    if (cap > RANK_TREE_MAX)
        cap = RANK_TREE_MAX;
    n = realloc(t->node, cap * sizeof(*n));
    if (!n)
        return -1;
    if (!t->node)
        n[0] = (struct rank_node){0, 0, 0, 0, 0};
    t->node = n;
    t->cap = (uint32_t)cap;
    return 0;
}

/* Make room for node index `want`.  Growth by half again keeps a sliding
 * window's tree within 1.5x of its size. */
static int reserve(struct rank_tree *t, size_t want)
{
    size_t cap = t->cap ? t->cap : 64;

    if (want >= RANK_TREE_MAX)
        return -1;
    if (want < t->cap)
        return 0;
    while (cap <= want)
        cap += cap / 2;
    return grow_to(t, cap);
}

/* A fresh node for v, or 0 when memory ran out.  t->node may move. */
static uint32_t new_node(struct rank_tree *t, double v)
{
    uint32_t i;

    if (t->free_list) {
        i = t->free_list;
        t->free_list = t->node[i].left;
    } else {
        if (reserve(t, (size_t)t->used + 1) < 0)
            return 0;
        i = ++t->used;
    }
    t->node[i] = (struct rank_node){v, 0, 0, 1, next_prio(t)};
    return i;
}

static void resize(struct rank_node *n, uint32_t i)
{
    n[i].size = 1 + n[n[i].left].size + n[n[i].right].size;
}

/* Split the subtree at i into the values < v (*lo) and >= v (*hi). */
static void split(struct rank_node *n, uint32_t i, double v, uint32_t *lo,
                  uint32_t *hi)
{
    if (!i) {
        *lo = *hi = 0;
        return;
    }
    if (n[i].value < v) {
        split(n, n[i].right, v, &n[i].right, hi);
        *lo = i;
    } else {
        split(n, n[i].left, v, lo, &n[i].left);
        *hi = i;
    }
    resize(n, i);
}

/* Join two subtrees where every value of a is <= every value of b. */
static uint32_t join(struct rank_node *n, uint32_t a, uint32_t b)
{
    if (!a || !b)
        return a ? a : b;
    if (n[a].prio >= n[b].prio) {
        n[a].right = join(n, n[a].right, b);
        resize(n, a);
        return a;
    }
    n[b].left = join(n, a, n[b].left);
    resize(n, b);
    return b;
}

static uint32_t insert_at(struct rank_node *n, uint32_t i, uint32_t k)
{
    if (!i)
        return k;
    if (n[k].prio > n[i].prio) {
        split(n, i, n[k].value, &n[k].left, &n[k].right);
        resize(n, k);
        return k;
    }
    if (n[k].value < n[i].value)
        n[i].left = insert_at(n, n[i].left, k);
    else
        n[i].right = insert_at(n, n[i].right, k);
    n[i].size++;
    return i;
}

int rank_tree_insert(struct rank_tree *t, double v)
{
    uint32_t k = new_node(t, v);

    if (!k)
        return -1;
    t->root = insert_at(t->node, t->root, k);
    return 0;
}

/* Remove one node of value v under i; *gone gets its index, or 0. */
static uint32_t remove_at(struct rank_node *n, uint32_t i, double v,
                          uint32_t *gone)
{
    if (!i)
        return 0;
    if (n[i].value == v) {
        *gone = i;
        return join(n, n[i].left, n[i].right);
    }
    if (v < n[i].value)
        n[i].left = remove_at(n, n[i].left, v, gone);
    else
        n[i].right = remove_at(n, n[i].right, v, gone);
    if (*gone)
        n[i].size--;
    return i;
}

int rank_tree_remove(struct rank_tree *t, double v)
{
    uint32_t gone = 0;

    t->root = remove_at(t->node, t->root, v, &gone);
    if (!gone)
        return -1;
    t->node[gone].left = t->free_list;
    t->free_list = gone;
    return 0;
}

size_t rank_tree_count(const struct rank_tree *t)
{
    return t->root ? t->node[t->root].size : 0;
}

double rank_tree_select(const struct rank_tree *t, size_t k)
{
    const struct rank_node *n = t->node;
    uint32_t i = t->root;

    for (;;) {
        size_t left = n[n[i].left].size;

        if (k < left) {
            i = n[i].left;
        } else if (k == left) {
            return n[i].value;
        } else {
            k -= left + 1;
            i = n[i].right;
        }
    }
}

/*
 * Build a perfectly balanced tree over nodes lo .. hi (which hold v in
 * order) and give each node a priority whose top five bits fall with its
 * depth, so the heap order holds; the low bits stay random, so values
 * inserted later still land at random depths.
 */
static uint32_t build_range(struct rank_tree *t, uint32_t lo, uint32_t hi,
                            unsigned depth)
{
    struct rank_node *n = t->node;
    uint32_t mid;

    if (lo > hi)
        return 0;
    mid = lo + (hi - lo) / 2;
    n[mid].prio = ((uint32_t)(31 - depth) << 27) |
                  (next_prio(t) & 0x7ffffffu);
    n[mid].left = mid > lo ? build_range(t, lo, mid - 1, depth + 1) : 0;
    n[mid].right = build_range(t, mid + 1, hi, depth + 1);
    resize(n, mid);
    return mid;
}

int rank_tree_build(struct rank_tree *t, const double *v, size_t n)
{
    size_t i;

    t->root = t->used = t->free_list = 0;
    if (!n)
        return 0;
    /* Room for the values and an eighth more: a window that keeps its
     * size frees a node for every one it takes. */
    if (n >= RANK_TREE_MAX - n / 8 - 16 ||
        (t->cap < n + 1 && grow_to(t, n + 1 + n / 8 + 16) < 0))
        return -1;
    for (i = 0; i < n; i++)
        t->node[i + 1] = (struct rank_node){v[i], 0, 0, 1, 0};
    t->used = (uint32_t)n;
    t->root = build_range(t, 1, (uint32_t)n, 0);
    return 0;
}

static void walk(const struct rank_node *n, uint32_t i,
                 void (*fn)(double, void *), void *ctx)
{
    while (i) {
        walk(n, n[i].left, fn, ctx);
        fn(n[i].value, ctx);
        i = n[i].right;
    }
}

void rank_tree_walk(const struct rank_tree *t, void (*fn)(double, void *),
                    void *ctx)
{
    if (t->root)
        walk(t->node, t->root, fn, ctx);
}

size_t rank_tree_bytes(const struct rank_tree *t)
{
    return (size_t)t->cap * sizeof(struct rank_node);
}
