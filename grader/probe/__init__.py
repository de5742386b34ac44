"""Both ends of the probe protocol: what the host asks a sandbox to observe, and what comes back.

    plan.py       an item's checks -> a probe plan and the run request (never expected values)
    harness/      the in-sandbox observer and runner (stdlib + torch), shipped into every run
    run.py        run a plan on a source and parse its channel
    channel.py    the observation channel, parsed strictly (forged or cut -> ChannelError)
    summaries.py  the observer's value summaries read back as plain values and short texts

Imports run one way: `grader.grading` uses this package; nothing here imports grading.
"""
