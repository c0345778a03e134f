mod integration {}
mod runbooks;
