//! The simulated Kubernetes API server (filled in by the simulator work).
