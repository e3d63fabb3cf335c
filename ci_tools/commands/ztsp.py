"""``ci-tools ztsp``: zero-touch storage provisioning and its lab.

``lab up`` builds the lab (namespaces, veth, lldpd, snmpd, the reference array
on its management IP, Cinder nodes with sshd) and returns, leaving it running;
``lab link`` cables or uncables an array's data port; ``lab down`` removes it.
``controller`` receives the switch's traps and provisions what gets cabled.
"""

import json
import os
import sys

from ci_tools.errors import UsageError


def add_subparser(subparsers):
    parser = subparsers.add_parser("ztsp", help="zero-touch storage provisioning and its lab")
    sub = parser.add_subparsers(dest="ztsp_command", metavar="COMMAND", required=True)

    lab = sub.add_parser("lab", help="the namespace lab: switch, arrays, controller, nodes")
    lab_sub = lab.add_subparsers(dest="lab_action", metavar="ACTION", required=True)
    up = lab_sub.add_parser("up", help="build the lab and leave it running")
    up.add_argument("--work-dir", required=True, help="lab.json, configs, logs, array data")
    up.add_argument("--arrays", type=int, default=1, help="arrays (data ports start down)")
    up.add_argument("--nodes", type=int, default=1, help="Cinder nodes (sshd + node agent)")
    up.add_argument(
        "--servers",
        type=int,
        default=0,
        help="non-array LLDP neighbours (a plain server) on ports of their own",
    )
    up.add_argument("--trap-port", type=int, default=162, help="controller's trap port")
    up.add_argument(
        "--cinder",
        choices=["agent", "devstack"],
        default="agent",
        help="what a node runs: the node agent (seconds, no database or bus) or a real "
        "DevStack-lite with cinder-volume inside the node's namespace (one node)",
    )
    up.add_argument(
        "--devstack-dest",
        help="DevStack-lite dir for --cinder devstack (default: the warm one the devstack "
        "tests share, $CI_KIT_ROOT/devstack-lite-test)",
    )
    up.add_argument(
        "--restart-command",
        help="what a node runs after a new gold copy (default: the node agent in the Cinder "
        "venv, $CI_KIT_ROOT/cinder-venv)",
    )
    up.set_defaults(func=cmd_lab_up)
    down = lab_sub.add_parser("down", help="stop every lab process and delete the namespaces")
    down.add_argument("--work-dir", required=True)
    down.set_defaults(func=cmd_lab_down)
    link = lab_sub.add_parser("link", help="cable (up) or uncable (down) an array's data port")
    link.add_argument("--work-dir", required=True)
    link.add_argument("--array", type=int, default=1, help="array number (default 1)")
    link.add_argument("state", choices=["up", "down"])
    link.set_defaults(func=cmd_lab_link)

    ctl = sub.add_parser("controller", help="receive link traps and provision cabled arrays")
    ctl.add_argument("--config", required=True, help="controller config (lab: ctl/ztsp.yaml)")
    ctl.set_defaults(func=cmd_controller)


def cmd_lab_up(args):
    from ci_tools.ztsp.lab import Lab

    lab = Lab(
        args.work_dir,
        arrays=args.arrays,
        nodes=args.nodes,
        servers=args.servers,
        restart_command=args.restart_command,
        trap_port=args.trap_port,
        cinder=args.cinder,
        devstack_dest=args.devstack_dest,
    )
    state = lab.up()
    ctl = state["controller"]
    print(f"lab {state['prefix']} up: namespaces {', '.join(state['namespaces'])}")
    for a in state["arrays"]:
        print(
            f"  array {a['index']}: serial {a['serial']} data MAC {a['data_mac']} "
            f"API http://{a['mgmt_ip']}:{a['api_port']} on switch port {a['switch_port']} "
            "(cable down)"
        )
    for n in state["nodes"]:
        print(f"  node {n['name']}: ssh {n['user']}@{n['address']} gold copy {n['gold_copy']}")
        if n.get("kind") == "devstack":
            print(
                f"    DevStack-lite {n['devstack']['dest']} in {n['namespace']} "
                f"(deployed in {n['devstack']['deploy_seconds']} s), Cinder API "
                f"http://127.0.0.1:{n['devstack']['ports']['cinder']} in that namespace"
            )
    print(
        f"controller: ip netns exec {ctl['namespace']} ci-tools ztsp controller "
        f"--config {ctl['config']}"
    )
    print(f"cable array 1: ci-tools ztsp lab link --work-dir {args.work_dir} up")
    sys.stdout.flush()
    return 0


def cmd_lab_down(args):
    from ci_tools.ztsp.lab import Lab

    path = os.path.join(args.work_dir, "lab.json")
    if not os.path.exists(path):
        raise UsageError(f"{path} missing: no lab in {args.work_dir}")
    lab = Lab.load(args.work_dir)
    namespaces = lab.state["namespaces"]
    lab.down()
    print(f"lab {lab.prefix} down: removed {', '.join(namespaces) or 'nothing'}")
    return 0


def cmd_lab_link(args):
    from ci_tools.ztsp.lab import Lab

    lab = Lab.load(args.work_dir)
    arrays = {a["index"] for a in lab.state.get("arrays", [])}
    if args.array not in arrays:
        raise UsageError(f"--array {args.array}: the lab has arrays {sorted(arrays)}")
    lab.link(args.array, args.state == "up")
    print(json.dumps({"array": args.array, "link": args.state}))
    return 0


def cmd_controller(args):
    from ci_tools.ztsp.controller import run_controller

    return run_controller(args.config)
