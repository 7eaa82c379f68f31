# The lab's hosts, one line each: name, lan address (IPv4, IPv6), back address (IPv4, IPv6; "-" for none).
# Sourced by lab.sh on the machine and by guest.sh inside the VM, so both read the same table.
# lan  10.0.0.0/24 fd00::/64: one L2 segment for every host (direct routing, tunnelling, the client).
# back 10.1.0.0/24 fd01::/64: directors and real servers only; real servers answer from these addresses
#      through director1 (policy routing), which makes the routed path for NAT.
LAB_HOSTS="
director1 10.0.0.11  fd00::11  10.1.0.11 fd01::11
director2 10.0.0.12  fd00::12  10.1.0.12 fd01::12
rs1       10.0.0.21  fd00::21  10.1.0.21 fd01::21
rs2       10.0.0.22  fd00::22  10.1.0.22 fd01::22
rs3       10.0.0.23  fd00::23  10.1.0.23 fd01::23
client    10.0.0.100 fd00::100 -         -
"
LAB_NAT_GATEWAY4=10.1.0.11
LAB_NAT_GATEWAY6=fd01::11
lab_names() { echo "$LAB_HOSTS" | awk 'NF { print $1 }'; }
