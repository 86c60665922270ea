"""kdsync harness: build a kernel in several patch states, boot each in QEMU,
drive O_DSYNC/O_DIRECT writes on btrfs, and turn the console into verdicts.

The pipeline, one module a step:
source -> patches -> kconfig -> build -> vm -> workload -> monitor
-> verdict -> report.  kernel_reports is the console-log parser that both
the live monitor and ``parse-log`` use; proc holds every subprocess and
timeout decision; cli is a thin layer over all of them.
"""

__version__ = "0.1.0"
