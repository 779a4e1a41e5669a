//! Merkle trees over audit events, as RFC 6962 (section 2.1, kept in RFC
//! 9162 section 2.1) defines them: a leaf is `SHA-256(0x00 || data)`, an
//! inner node `SHA-256(0x01 || left || right)`, the tree of `n > 1`
//! leaves splits at the largest power of two below `n`, and the empty tree
//! hashes to `SHA-256("")`. A checkpoint signs the root of its minute's
//! leaves; an inclusion proof (the audit path) shows one event is under
//! that root without the others.
//!
//! The domain separation (`0x00` for leaves, `0x01` for nodes) is what
//! makes a leaf impossible to pass off as an inner node, and so a proof
//! for a made-up event.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf holding `data`: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (`n >= 2`): where RFC 6962
/// splits a tree of `n` leaves.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root of the tree whose leaves hash to `leaves`, in order (RFC 6962
/// MTH).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962
/// PATH): the sibling hashes from the leaf up to the root. `None` when
/// `index` is not a leaf of the tree.
pub fn inclusion_path(index: usize, leaves: &[Hash]) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    path_into(index, leaves, &mut path);
    Some(path)
}

/// Appends the path of `index` in `leaves`, leaf end first.
fn path_into(index: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path_into(index, &leaves[..k], path);
        path.push(root(&leaves[k..]));
    } else {
        path_into(index - k, &leaves[k..], path);
        path.push(root(&leaves[..k]));
    }
}

/// Whether `path` proves that the leaf hashing to `leaf` is leaf `index`
/// of a tree of `size` leaves whose root is `root` (the verification of
/// RFC 9162 section 2.1.3.2). A path of the wrong length, an index outside
/// the tree or any altered hash is refused.
pub fn verify_inclusion(
    index: usize,
    size: usize,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n % 2 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n % 2 == 0 {
                // Right-most node of a level with no right sibling: climb
                // until it is a right child.
                while f_n % 2 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("event {i}").as_bytes()))
            .collect()
    }

    fn hex(h: &Hash) -> String {
        ::hex::encode(h)
    }

    #[test]
    fn the_empty_tree_and_a_leaf_hash_as_rfc_6962_says() {
        // SHA-256 of the empty string.
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // SHA-256(0x00): the leaf of empty data, as in the Certificate
        // Transparency test vectors.
        assert_eq!(
            hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(root(&[leaf_hash(b"")]), leaf_hash(b""));
    }

    #[test]
    fn roots_match_the_certificate_transparency_test_vectors() {
        // The eight leaves of RFC 6962's reference test data (the
        // certificate-transparency project's merkle tree tests), and the
        // root of each prefix of them.
        let data: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let hashed: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        for (n, want) in roots.iter().enumerate() {
            assert_eq!(
                hex(&root(&hashed[..=n])),
                *want,
                "the tree of {} leaves",
                n + 1
            );
        }
    }

    #[test]
    fn every_leaf_of_every_tree_up_to_40_is_proved_and_nothing_else_is() {
        for size in 1..=40 {
            let tree = leaves(size);
            let top = root(&tree);
            for index in 0..size {
                let path = inclusion_path(index, &tree).unwrap();
                assert!(
                    verify_inclusion(index, size, &tree[index], &path, &top),
                    "leaf {index} of {size}"
                );
                // Another leaf, another index, another size, another root,
                // a path cut short or altered: each refused.
                let other = leaf_hash(b"not in the tree");
                assert!(!verify_inclusion(index, size, &other, &path, &top));
                if size > 1 {
                    assert!(!verify_inclusion(
                        (index + 1) % size,
                        size,
                        &tree[index],
                        &path,
                        &top
                    ));
                    assert!(!verify_inclusion(
                        index,
                        size,
                        &tree[index],
                        &path[1..],
                        &top
                    ));
                    let mut bent = path.clone();
                    bent[0][0] ^= 1;
                    assert!(!verify_inclusion(index, size, &tree[index], &bent, &top));
                }
                assert!(!verify_inclusion(
                    index,
                    size,
                    &tree[index],
                    &path,
                    &empty_root()
                ));
            }
            assert!(inclusion_path(size, &tree).is_none());
            assert!(!verify_inclusion(size, size, &tree[0], &[], &top));
        }
    }

    #[test]
    fn a_leaf_cannot_pass_for_an_inner_node() {
        // Two leaves; the inner node's preimage offered as one leaf's data
        // gives another hash, thanks to the 0x00/0x01 prefixes.
        let tree = leaves(2);
        let mut preimage = tree[0].to_vec();
        preimage.extend_from_slice(&tree[1]);
        assert_ne!(leaf_hash(&preimage), root(&tree));
    }
}
