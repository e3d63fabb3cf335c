"""Zero-touch storage provisioning: cable an array, and its backend appears on the Cinder nodes.

``lab`` builds the network (namespaces, veth, lldpd, snmpd, an array, Cinder
nodes); ``controller`` wires the rest: ``traps`` (linkUp/linkDown from the
switch), ``lldp`` (the switch's LLDP-MIB), ``identify`` (is the neighbour an
array?), ``secrets`` (its credentials), ``provision`` (host group and masking on
the array), ``goldcopy`` (the backend sections) and ``deliver`` (to the nodes,
then restart).
"""
