mod integration {}
mod sim;
mod k8s;
