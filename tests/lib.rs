mod integration {}
mod sim;
