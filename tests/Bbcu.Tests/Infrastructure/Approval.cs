using System;
using System.IO;
using Xunit;

namespace Bbcu.Tests.Infrastructure;

/// <summary>
/// A small approval (snapshot) helper with Verify's file conventions, so moving to Verify later is a
/// rename: the approved text lives in <c>Snapshots/NAME.verified.cs</c>; a mismatch writes
/// <c>NAME.received.cs</c> beside it and fails. Set <c>BBCU_ACCEPT_SNAPSHOTS=1</c> to accept the
/// received text (it overwrites the verified file).
/// </summary>
public static class Approval
{
    public const string AcceptVariable = "BBCU_ACCEPT_SNAPSHOTS";

    public static void Verify(string name, string text)
    {
        string dir = Repo.Path("tests", "Bbcu.Tests", "Snapshots");
        Directory.CreateDirectory(dir);
        string verified = Path.Combine(dir, name + ".verified.cs");
        string received = Path.Combine(dir, name + ".received.cs");
        text = text.Replace("\r\n", "\n");
        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == text)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            File.WriteAllText(verified, text);
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, text);
        Assert.Fail(expected is null
            ? $"No approved snapshot {verified}. Inspect {received}; accept with {AcceptVariable}=1."
            : $"Snapshot {name} changed. Compare {received} with {verified}; accept with {AcceptVariable}=1.");
    }
}
