"""Drain, the fixed-depth prefix-tree log parser (He et al., ICWS 2017), as drain3 0.9.11 implements it.

The same tree (token count, then the first ``depth - 2`` tokens, then a short list of
clusters), the same routing of tokens with digits and of full nodes to a wildcard child,
the same best-match rule and the same template update, with one change to the
similarity: a position where both the template and the (masked) message hold the
wildcard counts as similar. Stock drain3 counts it as dissimilar, so heavily masked
messages could never reach a strict threshold; with masking done up front a strict
threshold is what keeps templates that differ in one constant word apart.

Pure Python without imports: ``watchkeeper logs cluster`` is timed end to end, start-up
included, and importing drain3 pulls in jsonpickle, cachetools and importlib.metadata.
The state is plain JSON (:meth:`Drain.to_dict`); a drain3 object (the miner's first
state format) converts with :meth:`Drain.from_drain3`.
"""
from __future__ import annotations

__all__ = ["Drain", "LogCluster"]


class LogCluster:
    __slots__ = ("log_template_tokens", "cluster_id", "size")

    def __init__(self, log_template_tokens, cluster_id: int, size: int = 1):
        self.log_template_tokens = tuple(log_template_tokens)
        self.cluster_id = cluster_id
        self.size = size

    def get_template(self) -> str:
        return " ".join(self.log_template_tokens)


class Node:
    __slots__ = ("key_to_child_node", "cluster_ids")

    def __init__(self):
        self.key_to_child_node: dict[str, Node] = {}
        self.cluster_ids: list[int] = []


def _has_numbers(s: str) -> bool:
    return any(c.isdigit() for c in s)


class Drain:
    def __init__(self, depth: int = 4, sim_th: float = 0.4, max_children: int = 100, param_str: str = "<*>",
                 parametrize_numeric_tokens: bool = True):
        if depth < 3:
            raise ValueError("depth argument must be at least 3")
        self.log_cluster_depth = depth
        self.max_node_depth = depth - 2
        self.sim_th = sim_th
        self.max_children = max_children
        self.param_str = param_str
        self.parametrize_numeric_tokens = parametrize_numeric_tokens
        self.root_node = Node()
        self.id_to_cluster: dict[int, LogCluster] = {}
        self.clusters_counter = 0

    @property
    def clusters(self):
        return self.id_to_cluster.values()

    # --- matching ---------------------------------------------------------------------------
    def tree_search(self, root_node: Node, tokens: list[str], sim_th: float, include_params: bool
                    ) -> LogCluster | None:
        token_count = len(tokens)
        cur_node = root_node.key_to_child_node.get(str(token_count))
        if cur_node is None:
            return None
        if token_count == 0:
            return self.id_to_cluster.get(cur_node.cluster_ids[0])
        cur_node_depth = 1
        for token in tokens:
            if cur_node_depth >= self.max_node_depth or cur_node_depth == token_count:
                break
            children = cur_node.key_to_child_node
            cur_node = children.get(token)
            if cur_node is None:
                cur_node = children.get(self.param_str)
            if cur_node is None:
                return None
            cur_node_depth += 1
        return self.fast_match(cur_node.cluster_ids, tokens, sim_th, include_params)

    def get_seq_distance(self, seq1, seq2, include_params: bool) -> tuple[float, int]:
        """Similarity of template ``seq1`` and message ``seq2`` (wildcard against wildcard is similar)."""
        n = len(seq1)
        if n == 0:
            return 1.0, 0
        ps = self.param_str
        sim = 0
        params = 0
        for t1, t2 in zip(seq1, seq2):
            if t1 == ps:
                params += 1
                if t2 == ps or include_params:
                    sim += 1
            elif t1 == t2:
                sim += 1
        return sim / n, params

    def fast_match(self, cluster_ids, tokens: list[str], sim_th: float, include_params: bool) -> LogCluster | None:
        max_sim, max_param_count, max_cluster = -1.0, -1, None
        for cluster_id in cluster_ids:
            cluster = self.id_to_cluster.get(cluster_id)
            if cluster is None:
                continue
            cur_sim, param_count = self.get_seq_distance(cluster.log_template_tokens, tokens, include_params)
            if cur_sim > max_sim or (cur_sim == max_sim and param_count > max_param_count):
                max_sim, max_param_count, max_cluster = cur_sim, param_count, cluster
        return max_cluster if max_sim >= sim_th else None

    # --- learning ---------------------------------------------------------------------------
    def add_seq_to_prefix_tree(self, root_node: Node, cluster: LogCluster) -> None:
        token_count = len(cluster.log_template_tokens)
        key = str(token_count)
        cur_node = root_node.key_to_child_node.get(key)
        if cur_node is None:
            cur_node = root_node.key_to_child_node[key] = Node()
        if token_count == 0:
            cur_node.cluster_ids = [cluster.cluster_id]
            return
        ps = self.param_str
        current_depth = 1
        for token in cluster.log_template_tokens:
            if current_depth >= self.max_node_depth or current_depth >= token_count:
                cur_node.cluster_ids = [c for c in cur_node.cluster_ids if c in self.id_to_cluster]
                cur_node.cluster_ids.append(cluster.cluster_id)
                break
            children = cur_node.key_to_child_node
            if token in children:
                cur_node = children[token]
            elif self.parametrize_numeric_tokens and _has_numbers(token):
                if ps not in children:
                    children[ps] = Node()
                cur_node = children[ps]
            elif ps in children:
                if len(children) < self.max_children:
                    cur_node = children[token] = Node()
                else:
                    cur_node = children[ps]
            elif len(children) + 1 < self.max_children:
                cur_node = children[token] = Node()
            elif len(children) + 1 == self.max_children:
                cur_node = children[ps] = Node()
            else:
                cur_node = children[ps]
            current_depth += 1

    def create_template(self, seq1, seq2) -> list[str]:
        return [t2 if t1 == t2 else self.param_str for t1, t2 in zip(seq1, seq2)]

    def add_log_message(self, content: str) -> tuple[LogCluster, str]:
        tokens = content.strip().split()
        match = self.tree_search(self.root_node, tokens, self.sim_th, False)
        if match is None:
            self.clusters_counter += 1
            match = LogCluster(tokens, self.clusters_counter)
            self.id_to_cluster[match.cluster_id] = match
            self.add_seq_to_prefix_tree(self.root_node, match)
            return match, "cluster_created"
        template = tuple(self.create_template(tokens, match.log_template_tokens))
        update = "none"
        if template != match.log_template_tokens:
            match.log_template_tokens = template
            update = "cluster_template_changed"
        match.size += 1
        return match, update

    # --- state ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        def node(n: Node) -> dict:
            out: dict = {}
            if n.key_to_child_node:
                out["k"] = {t: node(c) for t, c in n.key_to_child_node.items()}
            if n.cluster_ids:
                out["c"] = list(n.cluster_ids)
            return out

        return {"depth": self.log_cluster_depth, "sim_th": self.sim_th, "max_children": self.max_children,
                "param_str": self.param_str, "numeric": self.parametrize_numeric_tokens,
                "counter": self.clusters_counter,
                "clusters": [[c.cluster_id, list(c.log_template_tokens), c.size] for c in self.id_to_cluster.values()],
                "tree": node(self.root_node)}

    @classmethod
    def from_dict(cls, d: dict) -> "Drain":
        drain = cls(depth=d["depth"], sim_th=d["sim_th"], max_children=d["max_children"], param_str=d["param_str"],
                    parametrize_numeric_tokens=d["numeric"])
        drain.clusters_counter = int(d["counter"])
        drain.id_to_cluster = {int(i): LogCluster(tokens, int(i), int(size)) for i, tokens, size in d["clusters"]}

        def node(src: dict) -> Node:
            n = Node()
            n.key_to_child_node = {t: node(c) for t, c in (src.get("k") or {}).items()}
            n.cluster_ids = [int(i) for i in src.get("c") or []]
            return n

        drain.root_node = node(d["tree"])
        return drain

    @classmethod
    def from_drain3(cls, other) -> "Drain":
        """The same tree and clusters, from a drain3 ``Drain`` (or a subclass of it)."""
        drain = cls(depth=other.log_cluster_depth, sim_th=other.sim_th, max_children=other.max_children,
                    param_str=other.param_str, parametrize_numeric_tokens=other.parametrize_numeric_tokens)
        drain.clusters_counter = other.clusters_counter
        drain.id_to_cluster = {int(k): LogCluster(c.log_template_tokens, int(c.cluster_id), c.size)
                               for k, c in other.id_to_cluster.items()}

        def node(src) -> Node:
            n = Node()
            n.key_to_child_node = {t: node(c) for t, c in src.key_to_child_node.items()}
            n.cluster_ids = [int(i) for i in src.cluster_ids]
            return n

        drain.root_node = node(other.root_node)
        return drain
