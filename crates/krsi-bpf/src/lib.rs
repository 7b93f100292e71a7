//! BPF skeletons.
