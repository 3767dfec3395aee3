// Real spherical harmonics up to degree 3, sign conventions of the original 3DGS rasterizer.
// `sh_at(k)` must be defined by the includer: coefficient k (0..15) of the current Gaussian, rgb.

const float SH_C0 = 0.28209479177387814;
const float SH_C1 = 0.4886025119029199;
const float SH_C2[5] = float[](1.0925484305920792, -1.0925484305920792, 0.31539156525252005,
                               -1.0925484305920792, 0.5462742152960396);
const float SH_C3[7] = float[](-0.5900435899266435, 2.890611442640554, -0.4570457994644658,
                               0.3731763325901154, -0.4570457994644658, 1.445305721320277,
                               -0.5900435899266435);

vec3 eval_sh(vec3 dir, int degree) {
    vec3 result = SH_C0 * sh_at(0);
    if (degree < 1) return result;
    float x = dir.x, y = dir.y, z = dir.z;
    result += -SH_C1 * y * sh_at(1) + SH_C1 * z * sh_at(2) - SH_C1 * x * sh_at(3);
    if (degree < 2) return result;
    float xx = x * x, yy = y * y, zz = z * z, xy = x * y, yz = y * z, xz = x * z;
    result += SH_C2[0] * xy * sh_at(4) + SH_C2[1] * yz * sh_at(5)
            + SH_C2[2] * (2.0 * zz - xx - yy) * sh_at(6) + SH_C2[3] * xz * sh_at(7)
            + SH_C2[4] * (xx - yy) * sh_at(8);
    if (degree < 3) return result;
    result += SH_C3[0] * y * (3.0 * xx - yy) * sh_at(9) + SH_C3[1] * xy * z * sh_at(10)
            + SH_C3[2] * y * (4.0 * zz - xx - yy) * sh_at(11)
            + SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * sh_at(12)
            + SH_C3[4] * x * (4.0 * zz - xx - yy) * sh_at(13)
            + SH_C3[5] * z * (xx - yy) * sh_at(14) + SH_C3[6] * x * (xx - 3.0 * yy) * sh_at(15);
    return result;
}
