#!/usr/bin/env python3
"""Independent trunk-hinge IMU generator (written by an outside tester who did not read the
pipeline; used by bench/outside_cases.py).

Trunk rotates about the hip (world y) axis through a depth profile. Sensor mounted in a random
orientation on the trunk at radius r from the hip. Writes CSV (t,ax,ay,az,gx,gy,gz) and prints
the true rep count as JSON on stdout.
"""
import argparse, json, math, sys
import numpy as np


def rot(axis, a):
    c, s = math.cos(a), math.sin(a)
    if axis == 'x':
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == 'y':
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rand_rot(rng):
    q = rng.normal(size=4); q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1-2*(y*y+z*z), 2*(x*y-z*w), 2*(x*z+y*w)],
                     [2*(x*y+z*w), 1-2*(x*x+z*z), 2*(y*z-x*w)],
                     [2*(x*z-y*w), 2*(y*z+x*w), 1-2*(x*x+y*y)]])


def smooth(u):  # 0..1 cosine ease
    return 0.5 - 0.5*np.cos(np.pi*np.clip(u, 0, 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('out')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--rate', type=float, default=100)
    p.add_argument('--reps', type=int, default=10, help='reps per set')
    p.add_argument('--sets', type=int, default=1)
    p.add_argument('--depth', type=float, nargs=2, default=[45, 80], help='min max deg')
    p.add_argument('--descent', type=float, nargs=2, default=[1, 3])
    p.add_argument('--hold', type=float, nargs=2, default=[0, 3])
    p.add_argument('--ascent', type=float, nargs=2, default=[1, 3])
    p.add_argument('--pause', type=float, nargs=2, default=[0.5, 3], help='between reps')
    p.add_argument('--stand0', type=float, default=3, help='initial standing s')
    p.add_argument('--standend', type=float, default=3)
    p.add_argument('--setrest', type=float, default=20, help='rest between sets s')
    p.add_argument('--resettle', type=float, default=0, help='std of standing pose change between sets, deg (pitch and roll)')
    p.add_argument('--sway', type=float, default=1.0, help='sway amplitude deg')
    p.add_argument('--noise_a', type=float, default=0.01, help='accel noise g')
    p.add_argument('--noise_g', type=float, default=0.5, help='gyro noise deg/s')
    p.add_argument('--gyro_bias', type=float, default=0.5, help='deg/s max per axis')
    p.add_argument('--radius', type=float, default=0.45)
    p.add_argument('--mount', default='random', help='random | identity')
    p.add_argument('--units', default='g,s,deg/s', help='accel,time,gyro units to WRITE (g|m/s^2|mg, s|ms|us, deg/s|rad/s)')
    p.add_argument('--header', default='t,ax,ay,az,gx,gy,gz')
    p.add_argument('--nogyro', action='store_true')
    p.add_argument('--jitter', type=float, default=0, help='timestamp jitter fraction of dt (irregular sampling)')
    p.add_argument('--drop', type=float, default=0, help='fraction of samples dropped at random')
    p.add_argument('--t0', type=float, default=0, help='timestamp offset s')
    p.add_argument('--rebound', type=float, default=0, help='overshoot backward after return, deg')
    p.add_argument('--backlean', type=float, default=0, help='standing pitch offset deg (neg = leaning back)')
    p.add_argument('--fidget', type=int, default=0, help='number of small fidget motions in rest periods')
    p.add_argument('--setpitch', default='', help='comma list of standing pitch per set (deg), overrides resettle')
    p.add_argument('--setroll', default='', help='comma list of standing roll per set (deg)')
    p.add_argument('--handling', type=float, default=0, help='during set rest, dowel tipped sideways by this many deg for 8 s')
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    dt = 1.0/a.rate
    # build pitch profile keyframes at high internal rate
    fs = 1000.0
    segs = []  # list of (duration, kind, params)
    base = [a.backlean]
    roll_base = [0.0]
    t = 0.0
    events = []  # (t_start, dur, from, to) pitch transitions
    cur = a.backlean
    t += a.stand0
    nreps = 0
    bottoms = []
    setpose = []
    rolls = []  # (t_start, dur, from, to) roll transitions
    curroll = 0.0
    for s in range(a.sets):
        if s > 0:
            t += a.setrest*0.3
            newb = a.backlean + rng.normal()*a.resettle
            newr = rng.normal()*a.resettle
            if a.setpitch: newb = a.backlean + float(a.setpitch.split(',')[s])
            if a.setroll: newr = float(a.setroll.split(',')[s])
            events.append((t, 1.5, cur, newb)); rolls.append((t, 1.5, curroll, newr))
            cur, curroll = newb, newr
            setpose.append((round(newb,1), round(newr,1)))
            t += 1.5 + a.setrest*0.7
            if a.handling:
                th0 = t - a.setrest*0.7 + 1.0
                rolls.append((th0, 1.5, curroll, curroll + a.handling)); rolls.append((th0 + 8, 1.5, curroll + a.handling, curroll))
        for r in range(a.reps):
            d = rng.uniform(*a.depth)
            td = rng.uniform(*a.descent); th = rng.uniform(*a.hold); ta = rng.uniform(*a.ascent)
            events.append((t, td, cur, cur+d)); t_b = t+td; t += td + th
            if a.rebound:
                events.append((t, ta, cur+d, cur-a.rebound)); t += ta
                events.append((t, 0.6, cur-a.rebound, cur)); t += 0.6
            else:
                events.append((t, ta, cur+d, cur)); t += ta
            nreps += 1
            bottoms.append(round(t_b,2))
            if r < a.reps-1:
                t += rng.uniform(*a.pause)
    t += a.standend
    T = t
    ti = np.arange(0, T, 1/fs)
    pitch = np.full_like(ti, a.backlean)
    for (t0, du, f, to) in events:
        m = ti >= t0
        pitch[m] = f + (to-f)*smooth((ti[m]-t0)/du)
    roll = np.zeros_like(ti)
    for (t0, du, f, to) in rolls:
        m = ti >= t0
        roll[m] = f + (to-f)*smooth((ti[m]-t0)/du)
    # sway: slow sinusoids
    ph = rng.uniform(0, 2*np.pi, 4)
    sw_p = a.sway*(0.6*np.sin(2*np.pi*0.23*ti+ph[0]) + 0.4*np.sin(2*np.pi*0.61*ti+ph[1]))
    sw_r = a.sway*(0.6*np.sin(2*np.pi*0.17*ti+ph[2]) + 0.4*np.sin(2*np.pi*0.47*ti+ph[3]))
    yaw = 0.5*a.sway*np.sin(2*np.pi*0.11*ti)
    for _ in range(a.fidget):
        tc = rng.uniform(0, T)
        amp = rng.uniform(-8, 8)
        sw_p += amp*np.exp(-((ti-tc)/0.4)**2)
    P = np.radians(pitch + sw_p); Rr = np.radians(roll + sw_r); Y = np.radians(yaw)
    M = rand_rot(rng) if a.mount == 'random' else np.eye(3)
    # orientation world<-trunk: yaw * roll(x) * pitch(y)  (pitch about hip axis y; forward = +x)
    cy, sy = np.cos(Y), np.sin(Y); cr, sr = np.cos(Rr), np.sin(Rr); cp, sp = np.cos(P), np.sin(P)
    n = len(ti)
    Rz = np.zeros((n, 3, 3)); Rz[:, 0, 0] = cy; Rz[:, 0, 1] = -sy; Rz[:, 1, 0] = sy; Rz[:, 1, 1] = cy; Rz[:, 2, 2] = 1
    Rx = np.zeros((n, 3, 3)); Rx[:, 0, 0] = 1; Rx[:, 1, 1] = cr; Rx[:, 1, 2] = -sr; Rx[:, 2, 1] = sr; Rx[:, 2, 2] = cr
    Ry = np.zeros((n, 3, 3)); Ry[:, 0, 0] = cp; Ry[:, 0, 2] = sp; Ry[:, 2, 0] = -sp; Ry[:, 2, 2] = cp; Ry[:, 1, 1] = 1
    Rwt = Rz @ Rx @ Ry
    Rws = Rwt @ M
    # position of sensor: radius along trunk axis (trunk up = +z in trunk frame)
    pos = a.radius*Rwt[:, :, 2]
    vel = np.gradient(pos, 1/fs, axis=0); acc = np.gradient(vel, 1/fs, axis=0)
    # low-pass accel a bit (gradient noise negligible since smooth)
    g = np.array([0, 0, 9.80665])
    f_world = acc + g
    f_s = np.einsum('nji,nj->ni', Rws, f_world) / 9.80665  # R^T f
    # body angular velocity: vee(R^T dR/dt)
    dR = np.gradient(Rws, 1/fs, axis=0)
    W = np.einsum('nji,njk->nik', Rws, dR)
    w = np.stack([W[:, 2, 1]-W[:, 1, 2], W[:, 0, 2]-W[:, 2, 0], W[:, 1, 0]-W[:, 0, 1]], axis=1)/2
    w = np.degrees(w)
    # sample
    ts = np.arange(0, T, dt)
    if a.jitter:
        ts = ts + rng.uniform(-a.jitter, a.jitter, len(ts))*dt
        ts = np.sort(np.clip(ts, 0, T-1/fs))
    if a.drop:
        keep = rng.uniform(size=len(ts)) >= a.drop
        ts = ts[keep]
    idx = np.clip(np.round(ts*fs).astype(int), 0, n-1)
    A = f_s[idx] + rng.normal(size=(len(ts), 3))*a.noise_a
    bias = rng.uniform(-a.gyro_bias, a.gyro_bias, 3)
    G = w[idx] + bias + rng.normal(size=(len(ts), 3))*a.noise_g
    au, tu, gu = a.units.split(',')
    A = A*{'g': 1, 'm/s^2': 9.80665, 'mg': 1000}[au]
    tt = (ts + a.t0)*{'s': 1, 'ms': 1000, 'us': 1e6}[tu]
    G = G*{'deg/s': 1, 'rad/s': math.pi/180}[gu]
    cols = a.header.split(',')
    with open(a.out, 'w') as fh:
        fh.write(','.join(cols[:4] if a.nogyro else cols) + '\n')
        for i in range(len(ts)):
            row = [f'{tt[i]:.6f}' if tu == 's' else f'{tt[i]:.3f}'] + [f'{v:.5f}' for v in A[i]]
            if not a.nogyro:
                row += [f'{v:.5f}' for v in G[i]]
            fh.write(','.join(row) + '\n')
    print(json.dumps({'reps': nreps, 'duration': T, 'samples': len(ts), 'bottoms': bottoms, 'setpose': setpose}))


if __name__ == '__main__':
    main()
