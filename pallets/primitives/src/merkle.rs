//! The checkpoint Merkle tree: `binary-merkle-tree` over BlakeTwo256, with the leaves of
//! [`crate::hashing::leaf_hash`] taken as they are (they are hashes already, so they are not
//! hashed again). An odd node at the end of a row is promoted unchanged; a single leaf is its
//! own root. The runtime checks a dispute's leaf with [`verify`].

use crate::Hash;
use alloc::vec::Vec;
use sp_runtime::traits::BlakeTwo256;

/// The root over `leaves` (zero for no leaves).
pub fn root(leaves: &[Hash]) -> Hash {
	binary_merkle_tree::merkle_root_raw::<BlakeTwo256, _>(leaves.iter().copied())
}

/// A proof that one leaf is in a tree.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Proof {
	/// The tree's root.
	pub root: Hash,
	/// Sibling hashes from the leaf up.
	pub siblings: Vec<Hash>,
	/// Number of leaves in the tree.
	pub number_of_leaves: u32,
	/// Index of the leaf (0-based).
	pub leaf_index: u32,
	/// The leaf.
	pub leaf: Hash,
}

/// The proof of leaf `index`; `None` when `index` is out of range or there are more than
/// `u32::MAX` leaves.
pub fn proof(leaves: &[Hash], index: u32) -> Option<Proof> {
	let count = u32::try_from(leaves.len()).ok()?;
	if index >= count {
		return None;
	}
	let p = binary_merkle_tree::merkle_proof_raw::<BlakeTwo256, _>(leaves.iter().copied(), index);
	Some(Proof {
		root: p.root,
		siblings: p.proof,
		number_of_leaves: p.number_of_leaves,
		leaf_index: p.leaf_index,
		leaf: p.leaf,
	})
}

/// Whether `leaf` is leaf `leaf_index` of the `number_of_leaves`-leaf tree with root `root`.
pub fn verify(
	root: &Hash,
	siblings: &[Hash],
	number_of_leaves: u32,
	leaf_index: u32,
	leaf: &Hash,
) -> bool {
	binary_merkle_tree::verify_proof::<BlakeTwo256, _, _>(
		root,
		siblings.iter().copied(),
		number_of_leaves,
		leaf_index,
		binary_merkle_tree::Leaf::Hash(*leaf),
	)
}
