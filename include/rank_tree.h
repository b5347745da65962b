/*
 * rank_tree.h - a multiset of doubles that answers "the value of rank k"
 * in O(log n) while values come and go.
 *
 * It is a treap: a binary search tree by value whose nodes also carry a
 * random priority kept in heap order, which keeps the expected depth
 * O(log n) whatever order the values arrive in, and a subtree size, which
 * makes selection by rank one walk from the root.  Nodes live in one
 * array and link by 32-bit index (24 bytes a value, no allocation per
 * value); a freed node is reused by the next insert.  Pure data
 * structure: no I/O, no locking.
 */
#ifndef STREAMAVG_RANK_TREE_H
#define STREAMAVG_RANK_TREE_H

#include <stddef.h>
#include <stdint.h>

struct rank_node;

struct rank_tree {
    struct rank_node *node;     /* node[0] is the empty tree */
    uint32_t cap;               /* nodes allocated, node[0] included */
    uint32_t used;              /* high-water mark of node indexes */
    uint32_t free_list;         /* freed nodes, linked through `left` */
    uint32_t root;
    uint64_t seed;              /* the priorities' generator */
};

/* The most values a tree holds: indexes are 32 bits. */
#define RANK_TREE_MAX 0xfffffff0u

void rank_tree_init(struct rank_tree *t);
void rank_tree_free(struct rank_tree *t);

/* Make t hold exactly v[0 .. n), which must ascend, in O(n).  Returns 0,
 * or -1 when memory ran out (t is then empty). */
int rank_tree_build(struct rank_tree *t, const double *v, size_t n);

/* Add one value (NaN is not allowed).  Returns 0, or -1 when memory ran
 * out (t is unchanged). */
int rank_tree_insert(struct rank_tree *t, double v);

/* Remove one value equal to v.  Returns 0, or -1 when there is none. */
int rank_tree_remove(struct rank_tree *t, double v);

size_t rank_tree_count(const struct rank_tree *t);

/* The value of rank k (0 = the least); k must be < the count. */
double rank_tree_select(const struct rank_tree *t, size_t k);

/* Call fn with every value, in ascending order. */
void rank_tree_walk(const struct rank_tree *t, void (*fn)(double, void *),
                    void *ctx);

/* Bytes the tree holds. */
size_t rank_tree_bytes(const struct rank_tree *t);

#endif
