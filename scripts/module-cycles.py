#!/usr/bin/env python3
"""Import circles between a crate's modules.

Usage: scripts/module-cycles.py CRATE/src [DEPTH]   (DEPTH 1: top-level modules; 2: their children)

Every `crate::a::b` and `super::x` path outside comments and `#[cfg(test)] mod tests` is an edge
from the file's module to the module it names; prints the edges, then the strongly connected
components of more than one module ("CYCLES: none" when there is no circle) and exits 1 if any."""
import os, re, sys, itertools
root = sys.argv[1]
def node_of(rel):
    parts = rel[:-3].split('/')
    if parts[-1] == 'mod': parts = parts[:-1]
    if parts == ['lib']: return 'lib'
    return '::'.join(parts[:int(sys.argv[2]) if len(sys.argv)>2 else 1])
edges = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f); rel = os.path.relpath(p, root)
        src = open(p).read()
        # drop #[cfg(test)] mod tests blocks crudely: cut at '#[cfg(test)]\nmod tests'
        src = re.split(r'#\[cfg\(test\)\]\s*mod tests', src)[0]
        src = '\n'.join(l for l in src.splitlines() if not l.strip().startswith('//'))
        me = node_of(rel)
        depth = int(sys.argv[2]) if len(sys.argv)>2 else 1
        for m in re.finditer(r'crate::([a-z_]+(?:::[a-z_]+)*)', src):
            segs = m.group(1).split('::')
            # keep only module segments (lowercase)
            tgt = '::'.join(segs[:depth])
            # resolve existence
            cand = segs[:depth]
            while cand and not (os.path.exists(os.path.join(root, *cand)+'.rs') or os.path.isdir(os.path.join(root,*cand))):
                cand = cand[:-1]
            if not cand: continue
            tgt='::'.join(cand)
            if tgt != me and not me.startswith(tgt+'::') and not tgt.startswith(me+'::'):
                edges.setdefault(me, set()).add(tgt)
        base = me.split('::')
        for m in re.finditer(r'\bsuper::([a-z_]+)', src):
            parent = base[:-1] if not rel.endswith('mod.rs') else base[:-1]
            cand = parent + [m.group(1)]
            if os.path.exists(os.path.join(root,*cand)+'.rs') or os.path.isdir(os.path.join(root,*cand)):
                tgt='::'.join(cand[:depth])
                if tgt!=me and not me.startswith(tgt+'::') and not tgt.startswith(me+'::'):
                    edges.setdefault(me,set()).add(tgt)
# cycles via Tarjan SCC
idx={}; low={}; st=[]; on=set(); sccs=[]; c=[0]
def sc(v):
    idx[v]=low[v]=c[0]; c[0]+=1; st.append(v); on.add(v)
    for w in edges.get(v,()):
        if w not in idx: sc(w); low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop(); on.discard(w); comp.append(w)
            if w==v: break
        if len(comp)>1: sccs.append(comp)
nodes=set(edges)|{w for s in edges.values() for w in s}
for v in sorted(nodes):
    if v not in idx: sc(v)
for k in sorted(edges): print(k,'->',', '.join(sorted(edges[k])))
print('CYCLES:', sccs if sccs else 'none')
sys.exit(1 if sccs else 0)
