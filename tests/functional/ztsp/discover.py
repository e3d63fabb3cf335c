"""Run in the controller's namespace: wait for one link trap, walk LLDP-MIB, identify.

Prints one JSON line per step so the test can follow; exits after the first
linkUp whose neighbour is complete (or after --timeout seconds).
"""

import argparse
import asyncio
import json
import sys
import time

from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from ci_tools.ztsp import identify, lldp, traps


async def main(args):
    events = asyncio.Queue()
    switch = {"name": "sw", "address": args.switch, "community": args.community}
    transport = await traps.listen(args.listen, args.port, [switch], events.put_nowait)
    print(json.dumps({"ready": True}), flush=True)
    engine = SnmpEngine()
    try:
        event = await asyncio.wait_for(events.get(), args.timeout)
        print(json.dumps({"trap": event.kind, "if_index": event.if_index}), flush=True)
        walks = 0
        deadline = time.monotonic() + args.timeout
        while True:
            walks += 1
            found = lldp.parse(await lldp.walk(engine, args.switch, args.community))
            try:
                ident = identify.identify(found, event.if_index, "RefFlash")
                break
            except identify.NoNeighbour:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        print(json.dumps({"mac": ident.mac, "mgmt_ip": ident.mgmt_ip, "walks": walks}), flush=True)
    finally:
        transport.close()
        engine.close_dispatcher()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for name in ("--listen", "--switch", "--community"):
        p.add_argument(name, required=True)
    p.add_argument("--port", type=int, default=162)
    p.add_argument("--timeout", type=float, default=15)
    sys.exit(asyncio.run(main(p.parse_args())))
