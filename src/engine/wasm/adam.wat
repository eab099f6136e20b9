;; Adam's update over float32 arrays in this module's memory, four lanes at a time.
;; Same arithmetic as tfjs's AdamOptimizer (float32 throughout):
;;   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − (lr·c1·m) / (√(c2·v) + ε)
;; with c1 = 1/(1−β1ᵗ), c2 = 1/(1−β2ᵗ). Pointers are byte offsets, n a multiple of 4 (the caller
;; pads), so the loop needs no scalar tail.
(module
  (import "env" "memory" (memory 1))
  (func (export "adam")
    (param $w i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $lrc1 f32) (param $c2 f32) (param $b1 f32) (param $b2 f32) (param $eps f32)
    (local $i i32) (local $end i32)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $B1 v128) (local $OB1 v128) (local $B2 v128) (local $OB2 v128)
    (local $LR v128) (local $C2 v128) (local $EPS v128)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $OB1 (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $OB2 (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $LR (f32x4.splat (local.get $lrc1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $OB1) (local.get $gv))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $OB2) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $vv))
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.sub
            (v128.load (i32.add (local.get $w) (local.get $i)))
            (f32x4.div
              (f32x4.mul (local.get $LR) (local.get $mv))
              (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $C2) (local.get $vv))) (local.get $EPS)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $end)))))))
