"""Log template mining for Watchkeeper (pure: stdlib + drain3, no AWS SDK).

    from watchkeeper.domain.logs import TemplateMiner, cluster_file, parse_line
"""
from .miner import DEFAULTS, MinedLine, TemplateMiner, cluster_file, cluster_lines
from .parse import ParsedLine, parse_line, strip_timestamp, template_text

__all__ = ["DEFAULTS", "MinedLine", "ParsedLine", "TemplateMiner", "cluster_file", "cluster_lines",
           "parse_line", "strip_timestamp", "template_text"]
