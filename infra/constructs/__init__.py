"""One construct per concern; `infra.stack.WatchkeeperStack` composes them."""
