"""The extractor reads what configuration-as-code's introspection reads, from Java source."""

from __future__ import annotations

import textwrap

import pytest

from generator.jcasc import extract

pytest.importorskip("tree_sitter_java")

SOURCES = {
    "core/hudson/model/Describable.java": """
        package hudson.model;
        public interface Describable<T extends Describable<T>> { }
    """,
    "core/hudson/model/Descriptor.java": """
        package hudson.model;
        public abstract class Descriptor<T extends Describable<T>> { }
    """,
    "core/hudson/slaves/Cloud.java": """
        package hudson.slaves;
        import hudson.model.*;
        public abstract class Cloud implements Describable<Cloud> { }
    """,
    "plugin/org/example/MyCloud.java": """
        package org.example;

        import hudson.Extension;
        import hudson.model.Descriptor;
        import hudson.slaves.Cloud;
        import java.util.List;
        import javax.annotation.Nonnull;
        import org.jenkinsci.Symbol;
        import org.kohsuke.accmod.Restricted;
        import org.kohsuke.accmod.restrictions.NoExternalUse;
        import org.kohsuke.stapler.DataBoundConstructor;
        import org.kohsuke.stapler.DataBoundSetter;

        public class MyCloud extends Cloud {
            @DataBoundConstructor
            public MyCloud(@Nonnull String name, List<Template> templates, int... ports) { }

            @DataBoundSetter @Deprecated
            public void setLabel(String label) { }
            public String getLabel() { return null; }

            @Restricted(NoExternalUse.class)
            public void setSecret(String s) { }
            public boolean isEnabled() { return true; }
            void setHidden(String h) { }

            public static class Template { @DataBoundConstructor public Template() { } }

            @Extension @Symbol({"mine", "myCloud"})
            public static class DescriptorImpl extends Descriptor<Cloud> {
                @Override public String getGlobalConfigPage() { return null; }
            }

            @Extension
            public static final Descriptor<Cloud> OTHER = new DescriptorImpl() { };

            public enum Mode { NORMAL, EXCLUSIVE { }, }
        }
    """,
    "plugin/org/example/MyConfigurator.java": """
        package org.example;
        import io.jenkins.plugins.casc.*;
        @hudson.Extension
        public class MyConfigurator extends BaseConfigurator<MyCloud> {
            public Class<MyCloud> getTarget() { return MyCloud.class; }
            public String getName() { return "myRoot"; }
            public boolean canConfigure(Class c) { return c.getName().equals("org.example.Hidden$None"); }
            public Set<Attribute<MyCloud, ?>> describe() {
                Set<Attribute<MyCloud, ?>> a = super.describe();
                a.add(new MultivaluedAttribute<MyCloud, String>("permissions", String.class));
                return a;
            }
        }
    """,
}


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    for rel, text in SOURCES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "plugin-res/org/example/MyCloud").mkdir(parents=True)
    (root / "plugin-res/org/example/MyCloud/config.jelly").write_text("<j:jelly/>")
    reader = extract.SourceReader()
    types, views = reader.read_tree(str(root), ["core", "plugin"], ["plugin-res"])
    return extract.resolve_types(types, extract.NameResolver(types), views)


def test_constructor_parameters_with_their_types_and_nullness(facts):
    cloud = facts["org.example.MyCloud"]
    assert cloud["constructor"] == [
        ["name", "java.lang.String", ["nonnull"]],
        ["templates", "java.util.List<org.example.MyCloud$Template>", []],
        ["ports", "int[]", []],
    ]
    assert cloud["super"] == "hudson.slaves.Cloud"
    assert cloud["views"] == ["config"]


def test_public_setters_and_getters_with_deprecation_and_restriction(facts):
    cloud = facts["org.example.MyCloud"]
    assert ["Label", "java.lang.String", ["databound", "deprecated"]] in cloud["setters"]
    assert ["Secret", "java.lang.String", ["restricted:NoExternalUse"]] in cloud["setters"]
    assert not any(s[0] == "Hidden" for s in cloud["setters"])  # package-private: not in getMethods()
    assert ["getLabel", "java.lang.String"] in cloud["getters"]
    assert ["isEnabled", "boolean"] in cloud["getters"]


def test_descriptors_symbols_and_extension_fields(facts):
    descriptor = facts["org.example.MyCloud$DescriptorImpl"]
    assert descriptor["symbols"] == ["mine", "myCloud"]
    assert descriptor["extension"] is True
    assert descriptor["super"] == "hudson.model.Descriptor<hudson.slaves.Cloud>"
    assert descriptor["globalPage"] == "null"
    assert facts["org.example.MyCloud"]["extensionFields"] == [["org.example.MyCloud$DescriptorImpl", True]]
    assert facts["org.example.MyCloud$Mode"]["enum"] == ["NORMAL", "EXCLUSIVE"]


def test_hand_written_configurator(facts):
    cfg = facts["org.example.MyConfigurator"]["configurator"]
    assert cfg["target"] == "org.example.MyCloud"
    assert cfg["names"] == ["myRoot"]
    assert cfg["attributes"] == [["permissions", "java.lang.String", True]]
    assert cfg["inherits"] is True
    assert cfg["canConfigure"] == ["org.example.Hidden$None"]


def test_names_resolve_through_wildcard_imports_and_type_variables(facts):
    assert facts["hudson.slaves.Cloud"]["interfaces"] == ["hudson.model.Describable<hudson.slaves.Cloud>"]
    assert facts["hudson.model.Descriptor"]["typeParams"] == ["T"]
